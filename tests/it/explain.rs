//! `protogate routes --explain` and the admin listener's `GET /explain`:
//! which route a request would meet and why, calling nothing.

use std::path::Path;

use protogate::{
    admin::{self, AdminOptions},
    compile,
    config::Config,
    gateway::Gateway,
};
use serde_json::Value;

use crate::cli::{DEMO_PB, assert_reports, protogate, write};

/// Library behind an API key, and Echo; the upstream is never called.
fn config() -> String {
    format!(
        r#"
listen: 127.0.0.1:0
descriptors: [{{ file: {DEMO_PB} }}]
upstreams:
  demo: {{ endpoints: ["http://127.0.0.1:1"] }}
policies:
  partners:
    api_key: {{ keys: [{{ consumer: acme, sha256: "8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4" }}] }}
routes:
  - grpc: {{ service: demo.v1.Library, upstream: demo }}
    policies: [partners]
  - grpc: {{ service: demo.v1.Echo, upstream: demo }}
"#
    )
}

#[test]
fn routes_explain_tells_the_rule_its_rivals_bindings_policies_and_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "gateway.yaml", &config());
    let (ok, text) =
        protogate(&["routes", "--config", &file, "--explain", "GET /v1/shelves/1/books/2?x=1&shelf=3"]);
    assert!(ok, "{text}");
    assert_reports(
        &text,
        &[
            "decision:  transcoded",
            "route:     GET /v1/shelves/{shelf}/books/{book} -> demo.v1.Library.GetBook",
            "considered GET /v1/shelves/{shelf}/books/{book}: matches: chosen",
            "considered DELETE /v1/shelves/{shelf}/books/{book}: the path matches, the method does not",
            "variable   shelf=\"1\": sets demo.v1.GetBookRequest.shelf",
            "variable   book=\"2\": sets demo.v1.GetBookRequest.book",
            "query      x=\"1\": ignored: it names no field",
            "query      shelf=\"3\": ignored: the path sets shelf",
            "body:      none",
            "policy:    authentication, one of: api key (the x-api-key header)",
            "upstream:  demo (nothing was called)",
        ],
    );
    let (ok, text) = protogate(&["routes", "--config", &file, "--explain", "DELETE /v1/shelves"]);
    assert!(ok, "{text}");
    assert_reports(&text, &["decision:  method not allowed (405; allowed: GET, HEAD, POST)"]);
    let (ok, text) = protogate(&["routes", "--config", &file, "--explain", "nonsense"]);
    assert!(!ok);
    assert_reports(&text, &["cannot read \"nonsense\" as a request: expected a method and a path"]);
}

#[tokio::test]
async fn the_admin_listener_explains_the_same() {
    let config = Config::from_yaml(&config(), "test config").unwrap();
    let compiled = compile::compile(&config, Path::new(env!("CARGO_MANIFEST_DIR")), &[]).await.unwrap();
    let gateway = std::sync::Arc::new(Gateway::new(compiled.runtime));
    let admin = admin::start("127.0.0.1:0".parse().unwrap(), gateway, AdminOptions::default()).await.unwrap();
    let url = format!("http://{}/explain?request=POST%20/v1/echo?nested.child.first_name=x", admin.addr());
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    let explanation: Value = response.json().await.unwrap();
    assert_eq!(explanation["route"]["target"], "demo.v1.Echo.Echo", "{explanation:#}");
    assert_eq!(explanation["body"], "the whole body is demo.v1.Kitchen (JSON)");
    assert_eq!(explanation["query"][0]["outcome"], "ignored: the body fills the whole message");
    let response = reqwest::get(format!("http://{}/explain", admin.addr())).await.unwrap();
    assert_eq!(response.status(), 400);
    admin.shutdown().await;
}
