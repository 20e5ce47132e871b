//! The OpenAPI document tells the truth: schemathesis (from PyPI) sends
//! generated requests to the demo's Library and Echo services through the
//! real gateway and checks that every response matches the status, content
//! type and schema the document gives, and that none is a 5xx. Streams,
//! `Sleep` and `Fail` (which fails on purpose) are left out; a fixed seed
//! and five examples per operation keep the run to seconds.

use protogate::demo::DemoBackend;

use crate::support::{gateway::start_gateway, tool};

#[tokio::test]
async fn every_response_matches_the_schema_the_document_gives() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let yaml = format!(
        "listen: 127.0.0.1:0\ndescriptors: [{{ file: descriptors/demo.pb }}]\n\
         upstreams:\n  demo: {{ endpoints: [\"http://{}\"] }}\n\
         routes:\n  - grpc: {{ service: demo.v1.Library, upstream: demo }}\n  - grpc: {{ service: demo.v1.Echo, upstream: demo }}\n\
         openapi: {{ serve_on: main }}\n",
        backend.addr()
    );
    let gateway = start_gateway(&yaml).await;
    let url = format!("http://{}/openapi.json", gateway.addr());
    let run = tokio::task::spawn_blocking(move || {
        tool::run(
            "st",
            &[
                "run",
                &url,
                "--phases",
                "fuzzing",
                "--max-examples",
                "5",
                "--seed",
                "1",
                "--exclude-path-regex",
                "^/v1/(stream|sleep|fail)",
                "--request-timeout",
                "5",
                "--checks",
                "response_schema_conformance,content_type_conformance,status_code_conformance,not_a_server_error",
                "--workers",
                "1",
            ],
        )
    });
    if let Some((passed, text)) = run.await.unwrap() {
        assert!(passed, "schemathesis found responses the document does not describe:\n{text}");
        assert!(text.contains("passed"), "{text}");
    }
}
