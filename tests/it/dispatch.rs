//! One port, every kind of route, dispatched as the house plan's rules say:
//! native gRPC calls by service, transcoded bindings by template (405 does
//! not fall through), pass-through routes by longest prefix, else 404. All
//! wired from a config, as a user writes it.

use protogate::proto::demo::v1::{GetShelfRequest, library_client::LibraryClient};
use serde_json::json;

use crate::support::gateway::{Harness, json_of};

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
  legacy: { protocol: http, endpoints: ["http://{legacy}"] }
routes:
  - grpc: { service: demo.v1.Library, upstream: demo }
  - http:
      prefix: /legacy/
      upstream: legacy
      strip_prefix: true
      request_headers: { set: { x-route: legacy }, remove: [x-secret] }
      response_headers: { remove: ["x-internal-*"] }
  - http: { prefix: /v1/, upstream: legacy, methods: [GET] }
  - http: { prefix: /, upstream: legacy, host: static.example }
"#;

#[tokio::test]
async fn a_prefix_route_forwards_with_its_rules() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    let response =
        gateway.client.get(gateway.url("/legacy/a/b?q=1")).header("x-secret", "s").send().await.unwrap();
    assert!(response.headers().get("x-internal-token").is_none());
    assert_eq!(response.headers()["x-backend"], "echo");
    let (status, echoed) = json_of(response).await;
    assert_eq!(status, 200);
    assert_eq!(echoed["path"], "/a/b");
    assert_eq!(echoed["query"], "q=1");
    assert_eq!(echoed["headers"]["x-route"], json!(["legacy"]));
    assert!(echoed["headers"].get("x-secret").is_none(), "{echoed}");
    assert_eq!(echoed["headers"]["x-forwarded-for"], json!(["127.0.0.1"]));
}

#[tokio::test]
async fn the_path_is_normalised_before_the_prefix_is_matched_and_forwarded() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    let (status, echoed) = gateway.get_json("//legacy/./x/../y").await;
    assert_eq!(status, 200, "{echoed}");
    assert_eq!(echoed["path"], "/y");
}

#[tokio::test]
async fn transcoded_bindings_win_over_prefixes_and_405_does_not_fall_through() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    // /v1/shelves/1 is a binding of GetShelf: transcoded, not proxied to the /v1/ prefix.
    let (status, shelf) = gateway.get_json("/v1/shelves/1").await;
    assert_eq!((status, shelf["theme"].as_str()), (200, Some("Fiction")));
    // No binding matches: the /v1/ prefix takes it.
    let (status, echoed) = gateway.get_json("/v1/unbound/path").await;
    assert_eq!((status, echoed["path"].as_str()), (200, Some("/v1/unbound/path")));
    // A binding matches the path under other methods: 405, no fall-through.
    let response = gateway.client.put(gateway.url("/v1/shelves/1")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    // The /v1/ prefix is GET-only and nothing else matches: 404.
    let (status, body) = gateway.send_json("POST", "/v1/unbound/path", "{}").await;
    assert_eq!((status, body["code"].clone()), (404, json!(5)));
}

#[tokio::test]
async fn a_host_limited_prefix_takes_only_its_host() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    let response =
        gateway.client.get(gateway.url("/anything")).header("host", "static.example").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (status, _) = gateway.get_json("/anything").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn native_grpc_clients_use_the_same_port() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    let mut client = LibraryClient::connect(gateway.url("")).await.unwrap();
    let shelf = client.get_shelf(GetShelfRequest { shelf: 2 }).await.unwrap().into_inner();
    assert_eq!(shelf.theme, "History");
    let missing = client.get_shelf(GetShelfRequest { shelf: 999 }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn a_route_to_an_upstream_of_the_wrong_protocol_is_a_config_error() {
    let yaml = CONFIG.replace("upstream: legacy, methods", "upstream: demo, methods");
    let config = protogate::config::Config::from_yaml(&yaml, "t").unwrap();
    let errors = protogate::compile::compile(&config, std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &[])
        .await
        .unwrap_err();
    assert!(
        errors.to_string().contains("routes[2].http.upstream: upstream \"demo\" is not an HTTP upstream"),
        "{errors}"
    );
}

#[tokio::test]
async fn an_https_upstream_with_mtls_is_configured_from_the_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, tls) = crate::support::http_backends::test_pki(dir.path(), "127.0.0.1");
    let secure = crate::support::http_backends::start_echo_with(Some(acceptor)).await;
    let identity = tls.identity.unwrap();
    let yaml = format!(
        r#"
listen: 127.0.0.1:0
descriptors: [{{ file: descriptors/demo.pb }}]
upstreams:
  demo: {{ endpoints: ["http://{{backend}}"] }}
  secure:
    protocol: http
    endpoints: ["https://{secure}"]
    tls: {{ ca_file: {ca}, cert_file: {cert}, key_file: {key} }}
routes:
  - grpc: {{ service: demo.v1.Library, upstream: demo }}
  - http: {{ prefix: /secure/, upstream: secure, strip_prefix: true }}
"#,
        ca = tls.ca_file.unwrap().display(),
        cert = identity.cert_file.display(),
        key = identity.key_file.display(),
    );
    let gateway = Harness::with_config(&yaml).await;
    let (status, echoed) = gateway.get_json("/secure/hello").await;
    assert_eq!(status, 200, "{echoed}");
    assert_eq!(echoed["path"], "/hello");
}
