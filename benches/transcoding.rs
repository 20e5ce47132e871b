//! Transcoding on the request path, against proto/bench (`bench.v1.Bench`):
//! request binding (`RequestBinder::bind`: path variables, query and JSON
//! body into a `DynamicMessage`) and response rendering
//! (`ResponseRenderer::render`: a `DynamicMessage` into JSON), each for a
//! small message and for a ~1 KB one. Binders and renderers are compiled
//! once per route at load time, so only `bind` and `render` are measured.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use protogate::http_rule::{Binding, bindings_of};
use protogate::proto::BENCH_DESCRIPTOR_SET;
use protogate::schema::HTTP_OPTION;
use protogate::transcode::bind::{BindOptions, RequestBinder};
use protogate::transcode::render::{RenderOptions, ResponseRenderer};
use serde_json::json;

const SERVICE: &str = "bench.v1.Bench";

/// The bench descriptors, decoded as the gateway decodes a descriptor set.
fn pool() -> DescriptorPool {
    DescriptorPool::decode(BENCH_DESCRIPTOR_SET).expect("the bench descriptor set decodes")
}

/// A method's input, output and its (single) `google.api.http` binding.
fn method(pool: &DescriptorPool, name: &str) -> (MessageDescriptor, MessageDescriptor, Binding) {
    let http_option = pool.get_extension_by_name(HTTP_OPTION).expect("google.api.http is in the pool");
    let method = pool
        .get_service_by_name(SERVICE)
        .and_then(|service| service.methods().find(|m| m.name() == name))
        .unwrap_or_else(|| panic!("{SERVICE}/{name} is in the pool"));
    let binding = bindings_of(&method, &http_option)
        .expect("the bench rules are valid")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{SERVICE}/{name} has a google.api.http rule"));
    (method.input(), method.output(), binding)
}

/// The request binder of a binding, with the default options.
fn binder(input: &MessageDescriptor, binding: &Binding) -> RequestBinder {
    let variables: Vec<Vec<String>> =
        binding.template.variables().iter().map(|v| v.field_path.clone()).collect();
    RequestBinder::compile(input, &variables, &binding.body, false, BindOptions::default())
        .expect("the bench bindings compile")
}

/// The JSON renderer of a whole reply, with the default options.
fn renderer(output: &MessageDescriptor) -> ResponseRenderer {
    ResponseRenderer::compile(output, None, RenderOptions::default()).expect("the bench replies compile")
}

/// A ~1 KB `Record` as a client would POST it: a few hundred characters of
/// description, tags, attributes and two items.
fn record_json() -> String {
    let part = |n: u32| {
        json!({
            "id": format!("item-{n:04}"),
            "name": format!("Replacement part {n} for the north-east pumping station"),
            "revision": (1000 + n).to_string(),
            "tags": ["spare", "hydraulic", "priority"],
            "labels": {"warehouse": "ams-3", "supplier": "acme-industrial"},
        })
    };
    json!({
        "id": "rec-2024-000173",
        "title": "Quarterly maintenance of the north-east pumping station",
        "description": "Inspection of the three main pumps, replacement of worn seals and \
            bearings, recalibration of the pressure sensors and a full test of the backup \
            generator. The station stays in service during the work; each pump is taken \
            offline in turn for no more than four hours. Findings are logged per pump, \
            with photographs of any corrosion, and parts are ordered through the usual \
            supplier.",
        "version": "12",
        "tags": ["maintenance", "pumps", "north-east", "scheduled", "q3"],
        "attributes": {
            "owner": "facilities-team",
            "region": "eu-west",
            "cost_center": "cc-4471",
            "priority": "high",
        },
        "items": [part(1), part(2)],
    })
    .to_string()
}

/// A small `Item`, as a backend would return it.
fn item_message(descriptor: MessageDescriptor) -> DynamicMessage {
    let text = json!({
        "id": "item-0042",
        "name": "Pressure sensor",
        "revision": "7",
        "tags": ["sensor", "spare"],
        "labels": {"warehouse": "ams-3"},
    })
    .to_string();
    DynamicMessage::deserialize(descriptor, &mut serde_json::Deserializer::from_str(&text))
        .expect("the Item JSON fits bench.v1.Item")
}

fn bind(c: &mut Criterion) {
    let pool = pool();
    let (get_input, _, get_binding) = method(&pool, "GetItem");
    let (post_input, _, post_binding) = method(&pool, "CreateRecord");
    let get = binder(&get_input, &get_binding);
    let post = binder(&post_input, &post_binding);

    let captures = vec!["item-0042".to_owned()];
    let query = "view=FULL";
    let empty = Bytes::new();
    let body = Bytes::from(record_json());
    let json_type = Some("application/json");
    get.bind(&captures, Some(query), &empty, None).expect("the GET request binds");
    post.bind(&[], None, &body, json_type).expect("the POST request binds");

    let mut group = c.benchmark_group("bind");
    group.bench_function("get_item_path_query", |b| {
        b.iter(|| get.bind(black_box(&captures), black_box(Some(query)), &empty, None))
    });
    group.bench_function("create_record_1kb_body", |b| {
        b.iter(|| post.bind(&[], None, black_box(&body), json_type))
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    let pool = pool();
    let (_, item_output, _) = method(&pool, "GetItem");
    let (record_input, record_output, record_binding) = method(&pool, "CreateRecord");
    let item = item_message(item_output.clone());
    let record = binder(&record_input, &record_binding)
        .bind(&[], None, &Bytes::from(record_json()), Some("application/json"))
        .expect("the Record JSON binds");
    let item_renderer = renderer(&item_output);
    let record_renderer = renderer(&record_output);
    item_renderer.render(&item).expect("the Item renders");
    record_renderer.render(&record).expect("the Record renders");

    let mut group = c.benchmark_group("render");
    group.bench_function("item_small", |b| b.iter(|| item_renderer.render(black_box(&item))));
    group.bench_function("record_1kb", |b| b.iter(|| record_renderer.render(black_box(&record))));
    group.finish();
}

criterion_group!(benches, bind, render);
criterion_main!(benches);
