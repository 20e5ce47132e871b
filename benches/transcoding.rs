//! Transcoding on the request path, against proto/bench (`bench.v1.Bench`),
//! the two paths side by side in one run (`<case>/dynamic` and `<case>/wire`):
//!
//! - binding, to the bytes that go on the wire: `RequestBinder::bind` (path
//!   variables, query and JSON body into a `DynamicMessage`) then its
//!   encoding, against `RequestBinder::bind_wire` (the wire codec);
//! - rendering, from the reply's wire bytes: decoding a `DynamicMessage`
//!   then `ResponseRenderer::render`, against
//!   `ResponseRenderer::render_encoded` (the wire codec);
//!
//! each for the small GET (`GetItem`: a path variable and a query; an
//! `Item` reply) and the ~1 KB POST (`CreateRecord`: a `Record` both ways).
//! Binders and renderers are compiled once per route at load time, so only
//! the per-request calls are measured. Before the timings, a counting
//! global allocator prints the heap allocations of one call of each
//! (`allocations per call:` lines on stderr).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use protogate::http_rule::{Binding, bindings_of};
use protogate::proto::BENCH_DESCRIPTOR_SET;
use protogate::schema::HTTP_OPTION;
use protogate::transcode::bind::{BindOptions, RequestBinder};
use protogate::transcode::codec::Outgoing;
use protogate::transcode::render::{RenderOptions, RenderedBody, ResponseRenderer};
use serde_json::json;

const SERVICE: &str = "bench.v1.Bench";

/// The system allocator, counting allocations (for the per-call figures).
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `GlobalAlloc::realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Prints the heap allocations (and reallocations) of one call of `f`,
/// averaged over a thousand.
fn report_allocations<T>(name: &str, mut f: impl FnMut() -> T) {
    const CALLS: usize = 1000;
    black_box(f());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..CALLS {
        black_box(f());
    }
    let per_call = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / CALLS as f64;
    eprintln!("allocations per call: {name}: {per_call:.1}");
}

/// What the old path sends: the bound message, encoded.
fn encoded(outgoing: Outgoing) -> Bytes {
    match outgoing {
        Outgoing::Wire(bytes) => bytes,
        Outgoing::Message(message) => Bytes::from(message.encode_to_vec()),
        Outgoing::Abort => panic!("a binder never aborts"),
    }
}

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
    let get_dynamic = || get.bind(&captures, Some(query), &empty, None).map(|m| m.encode_to_vec());
    let get_wire = || get.bind_wire(&captures, Some(query), &empty, None).map(encoded);
    let post_dynamic = || post.bind(&[], None, &body, json_type).map(|m| m.encode_to_vec());
    let post_wire = || post.bind_wire(&[], None, &body, json_type).map(encoded);
    let decode =
        |input: &MessageDescriptor, bytes: &[u8]| DynamicMessage::decode(input.clone(), bytes).unwrap();
    assert_eq!(decode(&get_input, &get_dynamic().unwrap()), decode(&get_input, &get_wire().unwrap()));
    assert_eq!(decode(&post_input, &post_dynamic().unwrap()), decode(&post_input, &post_wire().unwrap()));
    assert!(matches!(post.bind_wire(&[], None, &body, json_type), Ok(Outgoing::Wire(_))));

    report_allocations("bind/get_item_path_query/dynamic", get_dynamic);
    report_allocations("bind/get_item_path_query/wire", get_wire);
    report_allocations("bind/create_record_1kb_body/dynamic", post_dynamic);
    report_allocations("bind/create_record_1kb_body/wire", post_wire);

    let mut group = c.benchmark_group("bind");
    group.bench_function("get_item_path_query/dynamic", |b| b.iter(|| black_box(get_dynamic())));
    group.bench_function("get_item_path_query/wire", |b| b.iter(|| black_box(get_wire())));
    group.bench_function("create_record_1kb_body/dynamic", |b| b.iter(|| black_box(post_dynamic())));
    group.bench_function("create_record_1kb_body/wire", |b| b.iter(|| black_box(post_wire())));
    group.finish();
}

fn render(c: &mut Criterion) {
    let pool = pool();
    let (_, item_output, _) = method(&pool, "GetItem");
    let (record_input, record_output, record_binding) = method(&pool, "CreateRecord");
    let item = item_message(item_output.clone()).encode_to_vec();
    let record = binder(&record_input, &record_binding)
        .bind(&[], None, &Bytes::from(record_json()), Some("application/json"))
        .expect("the Record JSON binds")
        .encode_to_vec();
    let item_renderer = renderer(&item_output);
    let record_renderer = renderer(&record_output);
    let dynamic = |renderer: &ResponseRenderer, output: &MessageDescriptor, bytes: &[u8]| -> RenderedBody {
        let message = DynamicMessage::decode(output.clone(), bytes).expect("the reply decodes");
        renderer.render(&message).expect("the reply renders")
    };
    let wire = |renderer: &ResponseRenderer, bytes: &[u8]| {
        renderer.render_encoded(bytes).expect("the reply renders")
    };
    let json = |rendered: RenderedBody| serde_json::from_slice::<serde_json::Value>(&rendered.body).unwrap();
    assert_eq!(json(dynamic(&item_renderer, &item_output, &item)), json(wire(&item_renderer, &item)));
    assert_eq!(
        json(dynamic(&record_renderer, &record_output, &record)),
        json(wire(&record_renderer, &record))
    );

    report_allocations("render/item_small/dynamic", || dynamic(&item_renderer, &item_output, &item));
    report_allocations("render/item_small/wire", || wire(&item_renderer, &item));
    report_allocations("render/record_1kb/dynamic", || dynamic(&record_renderer, &record_output, &record));
    report_allocations("render/record_1kb/wire", || wire(&record_renderer, &record));

    let mut group = c.benchmark_group("render");
    group.bench_function("item_small/dynamic", |b| {
        b.iter(|| dynamic(&item_renderer, &item_output, black_box(&item)))
    });
    group.bench_function("item_small/wire", |b| b.iter(|| wire(&item_renderer, black_box(&item))));
    group.bench_function("record_1kb/dynamic", |b| {
        b.iter(|| dynamic(&record_renderer, &record_output, black_box(&record)))
    });
    group.bench_function("record_1kb/wire", |b| b.iter(|| wire(&record_renderer, black_box(&record))));
    group.finish();
}

criterion_group!(benches, bind, render);
criterion_main!(benches);
