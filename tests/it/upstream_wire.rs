//! How the gateway talks to gRPC upstreams on the wire: gzip both ways
//! when configured and not at all otherwise, and
//! TLS with a custom CA and a client certificate (mTLS) to a backend that
//! requires one, also when the endpoint is a host name resolved to
//! addresses.

use protogate::demo::DemoBackend;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::support::{
    gateway::{Harness, json_of, start_gateway},
    http_backends::test_pki,
};

const GZIP_REQUESTS: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"], compression: gzip }
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
"#;

/// GET /v1/echo/<10 000 a> through a gateway in front of `backend` with
/// `config`; returns how many replies the backend gzip'd.
async fn gzip_replies_of_a_long_echo(config: &str) -> u64 {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gateway = start_gateway(&config.replace("{backend}", &backend.addr().to_string())).await;
    let long = "a".repeat(10_000);
    let url = format!("http://{}/v1/echo/{long}", gateway.addr());
    let (status, body) = json_of(reqwest::get(url).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], long.as_str());
    backend.gzip_replies()
}

#[tokio::test]
async fn replies_the_backend_gzips_arrive_intact() {
    let gzipped = gzip_replies_of_a_long_echo(GZIP_REQUESTS).await;
    assert_eq!(gzipped, 1, "the gateway offered gzip and the backend used it");
}

#[tokio::test]
async fn without_compression_the_gateway_offers_no_gzip() {
    let gzipped = gzip_replies_of_a_long_echo(crate::support::gateway::DEMO_CONFIG).await;
    assert_eq!(gzipped, 0, "a backend that gzips for clients that accept it was offered gzip");
}

#[tokio::test]
async fn requests_go_gzipped_when_configured() {
    let gateway = Harness::with_config(GZIP_REQUESTS).await;
    let (status, body) = gateway.send_json("POST", "/v1/echo", r#"{"id":"zipped","i32":7}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["id"].as_str(), body["i32"].as_i64()), (Some("zipped"), Some(7)));
    assert_eq!(gateway.backend().gzip_requests(), 1, "the request did not arrive gzip'd");
}

/// A demo backend on 127.0.0.1 over TLS, its certificate for
/// `server_name`, that requires a client certificate from the test CA, and
/// the PKI's directory.
async fn mtls_backend(server_name: &str) -> (DemoBackend, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    test_pki(dir.path(), server_name);
    let read = |file: &str| std::fs::read(dir.path().join(file)).unwrap();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read("server.pem"), read("server.key")))
        .client_ca_root(Certificate::from_pem(read("ca.pem")));
    let backend = DemoBackend::start_tls("127.0.0.1:0".parse().unwrap(), tls).await.unwrap();
    (backend, dir)
}

/// The gateway's config: one upstream at `endpoint` with `tls` and `extra` keys.
fn tls_config(endpoint: &str, tls: &str, extra: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\n\
         descriptors: [{{ file: descriptors/demo.pb }}]\n\
         upstreams:\n  demo: {{ endpoints: [\"https://{endpoint}\"], tls: {tls}{extra} }}\n\
         routes: [{{ grpc: {{ service: demo.v1.Echo, upstream: demo }} }}]\n"
    )
}

/// `tls` with the test CA and the client certificate in `dir`.
fn mtls(dir: &tempfile::TempDir) -> String {
    let path = |file: &str| dir.path().join(file).display().to_string();
    format!(
        "{{ ca_file: \"{}\", cert_file: \"{}\", key_file: \"{}\" }}",
        path("ca.pem"),
        path("client.pem"),
        path("client.key")
    )
}

#[tokio::test]
async fn grpc_over_tls_with_a_client_certificate() {
    let (backend, dir) = mtls_backend("127.0.0.1").await;
    let gateway = start_gateway(&tls_config(&backend.addr().to_string(), &mtls(&dir), "")).await;
    let url = format!("http://{}/v1/echo/secure", gateway.addr());
    let (status, body) = json_of(reqwest::get(url).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "secure");
}

#[tokio::test]
async fn grpc_over_tls_to_a_host_name_checks_the_name_not_the_address() {
    // The certificate names localhost only. localhost may also resolve to
    // ::1, where nothing listens: that try is not sent, so it is retried on
    // another endpoint (127.0.0.1).
    let (backend, dir) = mtls_backend("localhost").await;
    let endpoint = format!("localhost:{}", backend.addr().port());
    let retry = ", retry: { attempts: 3 }";
    let gateway = start_gateway(&tls_config(&endpoint, &mtls(&dir), retry)).await;
    let url = format!("http://{}/v1/echo/named", gateway.addr());
    let (status, body) = json_of(reqwest::get(url).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "named");
    assert_eq!(backend.calls(), 1);
}

#[tokio::test]
async fn without_the_client_certificate_the_backend_refuses() {
    let (backend, dir) = mtls_backend("127.0.0.1").await;
    let tls = format!("{{ ca_file: \"{}\" }}", dir.path().join("ca.pem").display());
    let gateway = start_gateway(&tls_config(&backend.addr().to_string(), &tls, "")).await;
    let url = format!("http://{}/v1/echo/secure", gateway.addr());
    let (status, body) = json_of(reqwest::get(url).await.unwrap()).await;
    assert_eq!(status, 503, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("the connection to the backend failed: "), "{message}");
    assert_eq!(backend.calls(), 0);
}

#[tokio::test]
async fn wire_settings_are_checked_when_the_config_compiles() {
    let yaml = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  cleartext: { endpoints: ["http://127.0.0.1:1"], tls: { ca_file: ca.pem } }
  half: { endpoints: ["https://127.0.0.1:1"], tls: { cert_file: client.pem } }
  missing: { endpoints: ["https://127.0.0.1:1"], tls: { ca_file: /nonexistent/ca.pem } }
  web: { protocol: http, endpoints: ["http://127.0.0.1:1"], compression: gzip }
  retries: { endpoints: ["http://127.0.0.1:1"], retry: { attempts: 0, budget_percent: 2000, backoff: 1s, max_backoff: 10ms } }
routes: []
"#;
    let config = protogate::config::Config::from_yaml(yaml, "t").unwrap();
    let Err(errors) = protogate::compile::compile(&config, std::path::Path::new("/"), &[]).await else {
        panic!("the config compiled");
    };
    let text = errors.to_string();
    for expected in [
        "upstreams.cleartext.endpoints[0]: \"http://127.0.0.1:1\" is cleartext but `tls` is set",
        "upstreams.half.tls: `cert_file` and `key_file` go together",
        "upstreams.missing.tls: cannot read /nonexistent/ca.pem",
        "upstreams.web.compression: only for gRPC upstreams",
        "upstreams.retries.retry.attempts: 0 is out of range (1 to 10)",
        "upstreams.retries.retry.budget_percent: 2000 is out of range (0 to 1000)",
        "upstreams.retries.retry.max_backoff: 10ms is shorter than backoff (1s)",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}
