//! The admin listener: liveness, readiness and the route table, served
//! from the gateway's current runtime.

use std::{path::Path, sync::Arc};

use protogate::{admin, compile, config::Config, demo::DemoBackend, gateway::Gateway};

use crate::support::gateway::{DEMO_CONFIG, json_of};

async fn admin_for(yaml: &str) -> admin::AdminServer {
    let config = Config::from_yaml(yaml, "test config").unwrap();
    let compiled = compile::compile(&config, Path::new(env!("CARGO_MANIFEST_DIR")), &[]).await.unwrap();
    admin::start(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(Gateway::new(compiled.runtime)),
        admin::AdminOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn liveness_readiness_and_routes() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let admin = admin_for(&DEMO_CONFIG.replace("{backend}", &backend.addr().to_string())).await;
    let base = format!("http://{}", admin.addr());

    let (status, body) = json_of(reqwest::get(format!("{base}/healthz")).await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    let (status, body) = json_of(reqwest::get(format!("{base}/readyz")).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);

    let (status, body) = json_of(reqwest::get(format!("{base}/routes")).await.unwrap()).await;
    assert_eq!(status, 200);
    let routes = body.as_array().unwrap();
    assert!(
        routes.iter().any(|r| r["template"] == "/v1/shelves/{shelf}/books/{book}" && r["method"] == "GET"),
        "{body}"
    );

    let (status, body) = json_of(reqwest::get(format!("{base}/upstreams")).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["name"], "demo");
    assert_eq!(body[0]["breaker"], "closed");
    assert_eq!(body[0]["endpoints"][0]["healthy"], true);
    admin.shutdown().await;
}

#[tokio::test]
async fn readiness_fails_while_an_upstream_has_no_healthy_endpoint() {
    use tonic_health::ServingStatus;
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let yaml = DEMO_CONFIG.replace("{backend}", &backend.addr().to_string()).replace(
        r#"demo: { endpoints: ["#,
        r#"demo: { health_check: { interval: 50ms, timeout: 200ms, unhealthy_threshold: 1, healthy_threshold: 1 }, endpoints: ["#,
    );
    let admin = admin_for(&yaml).await;
    let readyz = format!("http://{}/readyz", admin.addr());
    let reporter = backend.health_reporter();
    reporter.set_service_status("", ServingStatus::NotServing).await;
    let mut last = (0, serde_json::Value::Null);
    // 50 ms checks: the verdict changes within a few; wait up to 2 s (x5 margin and more).
    for _ in 0..40 {
        last = json_of(reqwest::get(&readyz).await.unwrap()).await;
        if last.0 == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last.0, 503, "{}", last.1);
    assert_eq!(last.1["upstreams_without_healthy_endpoint"], serde_json::json!(["demo"]));
    reporter.set_service_status("", ServingStatus::Serving).await;
    for _ in 0..40 {
        last = json_of(reqwest::get(&readyz).await.unwrap()).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last.0, 200, "{}", last.1);
    admin.shutdown().await;
}

const ADMIN_CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams: { demo: { endpoints: ["http://127.0.0.1:1"] } }
routes: [{ grpc: { service: demo.v1.Echo, upstream: demo } }]
"#;

async fn compile_admin(admin: &str, base_dir: &Path) -> Result<compile::Compiled, String> {
    let yaml = format!("{ADMIN_CONFIG}admin: {admin}\n").replace("descriptors/demo.pb", DEMO_PB);
    let config = Config::from_yaml(&yaml, "test config").unwrap();
    compile::compile(&config, base_dir, &[]).await.map_err(|errors| errors.to_string())
}

const DEMO_PB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/descriptors/demo.pb");

#[tokio::test]
async fn a_public_admin_listener_needs_a_token_or_allow_public() {
    let dir = tempfile::tempdir().unwrap();
    let error = compile_admin("{ listen: 0.0.0.0:9901 }", dir.path()).await.unwrap_err();
    assert!(
        error.contains("admin.listen: 0.0.0.0:9901 is not a loopback address")
            && error.contains("admin.token_file")
            && error.contains("admin.allow_public"),
        "{error}"
    );
    let compiled = compile_admin("{ listen: 0.0.0.0:9901, allow_public: true }", dir.path()).await.unwrap();
    assert_eq!(compiled.listeners.admin_listen, Some("0.0.0.0:9901".parse().unwrap()));
    std::fs::write(dir.path().join("admin.token"), "s3cret\n").unwrap();
    compile_admin("{ listen: \"[::]:9901\", token_file: admin.token }", dir.path()).await.unwrap();
    // Loopback needs neither.
    compile_admin("{ listen: \"[::1]:9901\" }", dir.path()).await.unwrap();
}

#[tokio::test]
async fn a_token_file_that_cannot_be_used_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let error =
        compile_admin("{ listen: 127.0.0.1:0, token_file: missing.token }", dir.path()).await.unwrap_err();
    assert!(error.contains("admin.token_file: cannot read missing.token"), "{error}");
    std::fs::write(dir.path().join("empty.token"), " \n").unwrap();
    let error =
        compile_admin("{ listen: 127.0.0.1:0, token_file: empty.token }", dir.path()).await.unwrap_err();
    assert!(error.contains("admin.token_file: empty.token is empty"), "{error}");
}

#[tokio::test]
async fn with_a_token_every_admin_request_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("admin.token"), "s3cret-token\n").unwrap();
    let compiled =
        compile_admin("{ listen: 127.0.0.1:0, token_file: admin.token }", dir.path()).await.unwrap();
    let options = admin::AdminOptions { token: compiled.listeners.admin_token, ..Default::default() };
    let admin =
        admin::start("127.0.0.1:0".parse().unwrap(), Arc::new(Gateway::new(compiled.runtime)), options)
            .await
            .unwrap();
    let client = reqwest::Client::new();
    for path in ["/healthz", "/readyz", "/routes", "/upstreams", "/nothing-here"] {
        let url = format!("http://{}{path}", admin.addr());
        for authorization in
            [None, Some("Bearer wrong"), Some("Bearer s3cret-toke"), Some("Basic s3cret-token")]
        {
            let mut request = client.get(&url);
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{path} with {authorization:?}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
        let response = client.get(&url).header("authorization", "Bearer s3cret-token").send().await.unwrap();
        assert_ne!(response.status(), 401, "{path} with the token");
    }
    let response = client
        .get(format!("http://{}/healthz", admin.addr()))
        .header("authorization", "bearer s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the scheme is case-insensitive");
    admin.shutdown().await;
}
