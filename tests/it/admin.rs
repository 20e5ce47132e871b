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
