//! Tests of request binding and response rendering: the conformance vectors
//! of tests/data/query_binding.json, then one module per concern. The
//! helpers here compile the test protos and shorten the calls.

mod body;
mod conformance;
mod field_path;
mod path;
mod query;
mod render;

use std::sync::OnceLock;

use bytes::Bytes;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage};

use super::bind::{BindFailure, BindOptions, RequestBinder};
use super::render::{RenderOptions, ResponseRenderer};
use crate::http_rule::BodySelector;

/// tests/data/binding_test.proto, compiled with protox.
fn test_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut compiler =
            protox::Compiler::new([format!("{root}/tests/data"), format!("{root}/proto")]).unwrap();
        compiler.open_files(["binding_test.proto"]).unwrap();
        compiler.descriptor_pool()
    })
}

/// The demo protos (Kitchen has a field of every kind).
fn demo_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(crate::proto::DEMO_DESCRIPTOR_SET).unwrap())
}

fn test_message(name: &str) -> MessageDescriptor {
    test_pool().get_message_by_name(&format!("binding.test.{name}")).unwrap()
}

fn demo_message(name: &str) -> MessageDescriptor {
    demo_pool().get_message_by_name(&format!("demo.v1.{name}")).unwrap()
}

fn kitchen() -> MessageDescriptor {
    demo_message("Kitchen")
}

/// A body selector from rule syntax: "" none, "*" whole, else a field path.
fn body_selector(body: &str) -> BodySelector {
    match body {
        "" => BodySelector::None,
        "*" => BodySelector::Whole,
        field => BodySelector::Field(field.to_owned()),
    }
}

fn binder_with(
    input: &MessageDescriptor,
    variables: &[&str],
    body: &str,
    options: BindOptions,
) -> RequestBinder {
    let variables: Vec<Vec<String>> =
        variables.iter().map(|v| v.split('.').map(str::to_owned).collect()).collect();
    RequestBinder::compile(input, &variables, &body_selector(body), false, options).unwrap()
}

fn binder(input: &MessageDescriptor, variables: &[&str], body: &str) -> RequestBinder {
    binder_with(input, variables, body, BindOptions::default())
}

/// Binds a query string alone into a Kitchen.
fn kitchen_query(query: &str) -> Result<serde_json::Value, String> {
    binder(&kitchen(), &[], "")
        .bind(&[], Some(query), &Bytes::new(), None)
        .map(|m| json(&m))
        .map_err(client_error)
}

/// A request body.
fn bytes(body: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(body.as_ref())
}

/// The message of a refusal of the client's input (a 400); an internal
/// failure fails the test.
fn client_error(failure: BindFailure) -> String {
    match failure {
        BindFailure::Invalid(error) => error.message,
        other => panic!("a client's 400 was reported as: {other}"),
    }
}

/// The message as JSON with defaults left out (what the vectors list).
fn json(message: &DynamicMessage) -> serde_json::Value {
    let options = RenderOptions { omit_defaults: true, ..RenderOptions::default() };
    let renderer = ResponseRenderer::compile(&message.descriptor(), None, options).unwrap();
    serde_json::from_slice(&renderer.render(message).unwrap().body).unwrap()
}
