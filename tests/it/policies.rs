//! The policy pipeline on both kinds of route: CORS preflights answered by
//! the gateway without touching the backend, and actual responses (errors
//! included) decorated for allowed origins only.

use crate::support::gateway::Harness;

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
  legacy: { protocol: http, endpoints: ["http://{legacy}"] }
policies:
  browsers:
    cors:
      allow_origins: ["https://app.example.com", "https://*.example.org"]
      allow_methods: [GET, POST, PATCH]
      expose_headers: [grpc-metadata-x-echo-header]
      allow_credentials: true
default_policies: [browsers]
routes:
  - grpc: { service: demo.v1.Library, upstream: demo }
  - grpc: { service: demo.v1.Echo, upstream: demo }
  - http: { prefix: /legacy/, upstream: legacy }
"#;

#[tokio::test]
async fn preflights_are_answered_by_the_gateway_on_both_kinds_of_route() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    let calls_before = gateway.backend().calls();
    for path in ["/v1/shelves/1/books/2", "/legacy/anything"] {
        let response = gateway
            .client
            .request(reqwest::Method::OPTIONS, gateway.url(path))
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "PATCH")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(headers["access-control-allow-methods"], "GET, POST, PATCH");
        assert_eq!(headers["access-control-allow-credentials"], "true");

        let refused = gateway
            .client
            .request(reqwest::Method::OPTIONS, gateway.url(path))
            .header("origin", "https://evil.example.com")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{path}");
    }
    assert_eq!(gateway.backend().calls(), calls_before, "a preflight reached the gRPC backend");
}

#[tokio::test]
async fn responses_carry_cors_headers_for_allowed_origins_errors_included() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    for (path, status) in [("/v1/shelves/1", 200), ("/v1/shelves/999", 404), ("/legacy/x", 200)] {
        let response = gateway
            .client
            .get(gateway.url(path))
            .header("origin", "https://a.example.org")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "https://a.example.org", "{path}");
        assert!(
            headers["access-control-expose-headers"]
                .to_str()
                .unwrap()
                .contains("grpc-metadata-x-echo-header"),
            "{path}"
        );
        let other =
            gateway.client.get(gateway.url(path)).header("origin", "https://evil.com").send().await.unwrap();
        assert!(other.headers().get("access-control-allow-origin").is_none(), "{path}");
    }
}

#[tokio::test]
async fn unknown_policies_are_config_errors_with_a_suggestion() {
    let yaml = CONFIG.replace("default_policies: [browsers]", "default_policies: [browser]");
    let config = protogate::config::Config::from_yaml(&yaml, "t").unwrap();
    let errors = protogate::compile::compile(&config, std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &[])
        .await
        .unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("default_policies[0]: unknown policy \"browser\" (did you mean \"browsers\"?)"),
        "{errors}"
    );
}

#[tokio::test]
async fn an_http2_preflight_finds_the_cors_policy_of_a_host_limited_route_by_its_authority() {
    let yaml = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
  legacy: { protocol: http, endpoints: ["http://{legacy}"] }
policies:
  browsers: { cors: { allow_origins: ["https://app.example.com"], allow_methods: [GET] } }
routes:
  - grpc: { service: demo.v1.Library, upstream: demo }
  - http: { prefix: /, upstream: legacy, host: static.example }
    policies: [browsers]
"#;
    let gateway = Harness::with_echo_backend(yaml).await;
    let address = gateway.url("").trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    // HTTP/2: the host travels as `:authority`, with no `Host` header.
    let preflight = http::Request::builder()
        .method("OPTIONS")
        .uri("http://static.example/page")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert!(!preflight.headers().contains_key("host"));
    let response = sender.send_request(preflight).await.unwrap();
    assert_eq!(response.status(), 204, "the preflight was not answered by the route's CORS policy");
    assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
}
