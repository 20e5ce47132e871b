//! The wire codec against the `DynamicMessage` path it stands in front of,
//! on random messages of proto/test/v1/kinds.proto (a field of every kind,
//! well-known types, maps, oneofs, packed and unpacked lists, recursion)
//! and on mutations of them: both paths must give the same JSON (and the
//! same key order), the same decoded request, and the same errors.

mod generate;

use std::sync::OnceLock;

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

use self::generate::{Rng, message, mutate_json, mutate_wire};
use super::{Plans, wire_to_json};
use crate::http_rule::BodySelector;
use crate::transcode::bind::{BindFailure, BindOptions, RequestBinder};
use crate::transcode::codec::{Outgoing, decode_reply};
use crate::transcode::render::{RenderOptions, ResponseRenderer};

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/proto");
        let mut compiler = protox::Compiler::new([proto]).unwrap();
        compiler.open_files(["test/v1/kinds.proto"]).unwrap();
        compiler.descriptor_pool()
    })
}

fn everything() -> MessageDescriptor {
    pool().get_message_by_name("wiretest.v1.Everything").unwrap()
}

fn render_options(rng: &mut Rng) -> RenderOptions {
    RenderOptions {
        use_proto_names: rng.chance(50),
        omit_defaults: rng.chance(50),
        enums_as_numbers: rng.chance(50),
    }
}

/// The `DynamicMessage` path: decode, then render.
fn old_render(renderer: &ResponseRenderer, bytes: &[u8]) -> Result<serde_json::Value, String> {
    let message = decode_reply(&everything(), bytes).map_err(|status| status.message().to_owned())?;
    let rendered = renderer.render(&message).map_err(|e| e.to_string())?;
    Ok(serde_json::from_slice(&rendered.body).unwrap())
}

fn new_render(renderer: &ResponseRenderer, bytes: &[u8]) -> Result<serde_json::Value, String> {
    let rendered = renderer.render_encoded(bytes).map_err(|e| e.to_string())?;
    Ok(serde_json::from_slice(&rendered.body).unwrap())
}

fn keys(value: &serde_json::Value) -> Vec<String> {
    value.as_object().map(|object| object.keys().cloned().collect()).unwrap_or_default()
}

/// A bound request as a comparable value: its JSON with every default.
fn canonical(bound: Result<DynamicMessage, BindFailure>) -> Result<serde_json::Value, BindFailure> {
    let options = SerializeOptions::new().skip_default_fields(false);
    bound.map(|message| {
        let mut out = Vec::new();
        message.serialize_with_options(&mut serde_json::Serializer::new(&mut out), &options).unwrap();
        serde_json::from_slice(&out).unwrap()
    })
}

/// The binders compared, each with captures that fit it: the whole body
/// with two path variables, a body field, and no body (query and a variable).
fn binders(options: BindOptions) -> Vec<(RequestBinder, Vec<String>)> {
    let input = everything();
    let compile = |variables: &[&[&str]], body: BodySelector, captures: &[&str]| {
        let variables: Vec<Vec<String>> =
            variables.iter().map(|v| v.iter().map(|s| s.to_string()).collect()).collect();
        let captures = captures.iter().map(|s| s.to_string()).collect();
        (RequestBinder::compile(&input, &variables, &body, false, options).unwrap(), captures)
    };
    vec![
        compile(&[&["f_string"], &["inner", "name"]], BodySelector::Whole, &["a", ""]),
        compile(&[&["mood"]], BodySelector::Field("child".into()), &["SAD"]),
        compile(&[&["f_int64"]], BodySelector::None, &["-42"]),
    ]
}

/// Binds `body` both ways; returns whether the wire path took it.
fn check_bind(binder: &RequestBinder, captures: &[String], query: Option<&str>, body: &str) -> bool {
    let body = Bytes::from(body.to_owned());
    let json = Some("application/json");
    let old = binder.bind(captures, query, &body, json);
    let (wire, new) = match binder.bind_wire(captures, query, &body, json) {
        Ok(Outgoing::Wire(bytes)) => (true, Ok(DynamicMessage::decode(everything(), bytes).unwrap())),
        Ok(Outgoing::Message(message)) => (false, Ok(message)),
        Ok(Outgoing::Abort) => panic!("a binder never aborts"),
        Err(error) => (false, Err(error)),
    };
    assert_eq!(canonical(old), canonical(new), "body {body:?}, query {query:?}, captures {captures:?}");
    wire
}

/// The body-field binder is the one with the single enum capture.
fn binder_has_body_field(captures: &[String]) -> bool {
    captures == ["SAD"]
}

fn captures(rng: &mut Rng, count: usize) -> Vec<String> {
    let pieces = ["a/b", "", "HAPPY", "1", "x y", "-7", "99999999999999999999"];
    (0..count).map(|_| rng.pick(&pieces).to_string()).collect()
}

/// 128 cases per property, unless `PROPTEST_CASES` asks for another number
/// (`PROPTEST_CASES=20000 cargo test --lib transcode::wire` for a long run).
fn config() -> ProptestConfig {
    match std::env::var_os("PROPTEST_CASES") {
        Some(_) => ProptestConfig::default(),
        None => ProptestConfig { cases: 128, ..ProptestConfig::default() },
    }
}

proptest! {
    #![proptest_config(config())]

    /// A reply renders the same, key order included, and the wire path
    /// renders every reply the message path can.
    #[test]
    fn replies_render_alike(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let options = render_options(&mut rng);
        let renderer = ResponseRenderer::compile(&everything(), None, options).unwrap();
        let bytes = message(&mut rng, &everything(), 0).encode_to_vec();
        let old = old_render(&renderer, &bytes);
        if let Ok(old) = &old {
            let plans = Plans::compile(&everything()).unwrap();
            let serialize = SerializeOptions::new()
                .use_proto_field_name(options.use_proto_names)
                .skip_default_fields(options.omit_defaults)
                .use_enum_numbers(options.enums_as_numbers)
                .stringify_64_bit_integers(true);
            let mut out = Vec::new();
            prop_assert!(wire_to_json(&plans, &bytes, &options, &serialize, &mut out).is_ok());
            let new: serde_json::Value = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(keys(old), keys(&new));
        }
        prop_assert_eq!(old, new_render(&renderer, &bytes));
    }

    /// Damaged or merged reply bytes give the same JSON or the same error.
    #[test]
    fn damaged_replies_render_alike(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let renderer = ResponseRenderer::compile(&everything(), None, render_options(&mut rng)).unwrap();
        let bytes = message(&mut rng, &everything(), 0).encode_to_vec();
        let other = message(&mut rng, &everything(), 0).encode_to_vec();
        let damaged = mutate_wire(&mut rng, &bytes, &other);
        prop_assert_eq!(old_render(&renderer, &damaged), new_render(&renderer, &damaged));
    }

    /// A request body (the JSON of a random message, in any of the output
    /// styles) binds to the same message, through the wire path.
    #[test]
    fn requests_bind_alike(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let renderer = ResponseRenderer::compile(&everything(), None, render_options(&mut rng)).unwrap();
        let Ok(json) = old_render(&renderer, &message(&mut rng, &everything(), 0).encode_to_vec()) else {
            return Ok(());
        };
        let text = json.to_string();
        for (binder, captures) in binders(BindOptions::default()) {
            let query = (captures.len() == 1 && rng.chance(50)).then_some("fInt32=5&inner.name=q");
            let query = if text.len() % 2 == 0 { query } else { None };
            let body = if captures.len() == 1 && query.is_none() && rng.chance(50) { "{}" } else { &text };
            let wire = check_bind(&binder, &captures, query, body);
            // The wire path takes every body but these (see super::from_json).
            let field_with_query = query.is_some() && binder_has_body_field(&captures);
            prop_assert!(wire || body.contains("\"val\":null") || field_with_query, "{body}");
        }
    }

    /// Damaged request bodies, odd captures and strict options give the
    /// same message or the same error.
    #[test]
    fn damaged_requests_bind_alike(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let renderer = ResponseRenderer::compile(&everything(), None, render_options(&mut rng)).unwrap();
        let json = old_render(&renderer, &message(&mut rng, &everything(), 0).encode_to_vec())
            .map(|json| json.to_string())
            .unwrap_or_else(|_| "{}".to_owned());
        let damaged = mutate_json(&mut rng, &json);
        let options = BindOptions { reject_unknown_fields: rng.chance(30), ..BindOptions::default() };
        for (binder, fitting) in binders(options) {
            let captures = if rng.chance(50) { fitting } else { captures(&mut rng, fitting.len()) };
            check_bind(&binder, &captures, None, &damaged);
        }
    }
}
