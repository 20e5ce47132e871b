//! Endpoints given by host name: `localhost` (resolved from /etc/hosts, no
//! network) becomes one endpoint per address; a name that cannot resolve
//! builds an upstream without endpoints that answers 503 at once.
//!
//! `localhost` may resolve to ::1 as well as 127.0.0.1, and the backends
//! listen on 127.0.0.1 only. The tests do not depend on it: the gateway
//! test health-checks every 50ms (one failure is enough) and waits until
//! every endpoint other than 127.0.0.1 is marked unhealthy before calling;
//! the proxy test marks them unhealthy itself. Either way, calls can only
//! go to 127.0.0.1, whatever /etc/hosts says.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use protogate::{
    admin, compile,
    config::Config,
    demo::DemoBackend,
    gateway::Gateway,
    proxy::{ClientSettings, HttpClient, ProxySettings, ProxyTarget},
    server,
    upstream::{Upstream, UpstreamProtocol},
};
use serde_json::Value;
use tokio::time::Instant;

use crate::support::{
    gateway::json_of,
    http_backends::{start_echo_with, start_proxy, test_pki, upstream},
};

/// The bound on every wait: many check intervals and refreshes.
const DEADLINE: Duration = Duration::from_secs(5);

/// Compiles `yaml` and serves it, with the admin listener.
async fn serve(yaml: &str) -> (server::RunningServer, admin::AdminServer) {
    let config = Config::from_yaml(yaml, "test config").unwrap();
    let compiled = compile::compile(&config, Path::new(env!("CARGO_MANIFEST_DIR")), &[])
        .await
        .unwrap_or_else(|errors| panic!("the test config does not compile:\n{errors}"));
    let gateway = Arc::new(Gateway::new(compiled.runtime));
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = server::start(listen, compiled.listeners.head, gateway.clone()).await.unwrap();
    (server, admin::start(listen, gateway, admin::AdminOptions::default()).await.unwrap())
}

/// The endpoints of the only upstream, from the admin API.
async fn endpoints(admin: &admin::AdminServer) -> Vec<Value> {
    let (status, body) =
        json_of(reqwest::get(format!("http://{}/upstreams", admin.addr())).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    body[0]["endpoints"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_host_name_becomes_an_endpoint_per_address() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = backend.addr().port();
    let yaml = format!(
        r#"
listen: 127.0.0.1:0
admin: {{ listen: 127.0.0.1:0 }}
descriptors:
  - file: descriptors/demo.pb
upstreams:
  demo:
    endpoints: ["http://localhost:{port}"]
    dns_refresh: 200ms
    health_check: {{ interval: 50ms, timeout: 200ms, unhealthy_threshold: 1, healthy_threshold: 1 }}
routes:
  - grpc: {{ service: demo.v1.Echo, upstream: demo }}
"#
    );
    let (gateway, admin) = serve(&yaml).await;
    let served = format!("127.0.0.1:{port}");
    let ready = |endpoints: &[Value]| {
        endpoints.iter().any(|e| e["address"] == served.as_str())
            && endpoints.iter().all(|e| e["address"] == served.as_str() || e["healthy"] == false)
    };
    let deadline = Instant::now() + DEADLINE;
    let mut listed = endpoints(&admin).await;
    while !ready(&listed) {
        assert!(Instant::now() < deadline, "not within {DEADLINE:?}: {listed:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        listed = endpoints(&admin).await;
    }
    for endpoint in &listed {
        assert_eq!(endpoint["uri"], format!("http://localhost:{port}/"), "{listed:?}");
        let address: SocketAddr = endpoint["address"].as_str().unwrap().parse().unwrap();
        assert!(address.ip().is_loopback() && address.port() == port, "{listed:?}");
    }

    let client = reqwest::Client::new();
    for _ in 0..10 {
        let response = client.get(format!("http://{}/v1/echo/abc", gateway.addr())).send().await.unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!((status, &body["id"]), (200, &Value::from("abc")), "{body}");
    }

    // Several refreshes later, the same addresses are still listed.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let again = endpoints(&admin).await;
    let addresses = |list: &[Value]| list.iter().map(|e| e["address"].clone()).collect::<Vec<_>>();
    assert_eq!(addresses(&again), addresses(&listed));
    admin.shutdown().await;
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_fast_503_naming_the_upstream() {
    let yaml = r#"
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
descriptors:
  - file: descriptors/demo.pb
upstreams:
  nowhere: { endpoints: ["http://nothing.invalid:1"], dns_refresh: 100ms }
routes:
  - grpc: { service: demo.v1.Echo, upstream: nowhere }
"#;
    // The first resolution gives up after 2s at most; .invalid fails at once.
    let (gateway, admin) = tokio::time::timeout(DEADLINE, serve(yaml)).await.expect("compiled in time");
    assert_eq!(endpoints(&admin).await, Vec::<Value>::new());
    let started = Instant::now();
    let response = reqwest::get(format!("http://{}/v1/echo/abc", gateway.addr())).await.unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("upstream \"nowhere\" has no healthy endpoint"),
        "{body}"
    );
    // Not the route's 30s deadline (a fifth of it, as a bound).
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
    admin.shutdown().await;
}

#[tokio::test]
async fn https_pass_through_to_a_name_connects_to_the_address_and_names_the_host() {
    let dir = tempfile::tempdir().unwrap();
    // The certificate names localhost only: TLS to the bare address would fail.
    let (acceptor, tls) = test_pki(dir.path(), "localhost");
    let backend = start_echo_with(Some(acceptor)).await;
    let upstream: Arc<Upstream> =
        upstream("legacy", UpstreamProtocol::Http, &format!("https://localhost:{}", backend.port()));
    for endpoint in upstream.endpoints().iter() {
        endpoint.state().set_healthy(endpoint.address() == backend);
    }
    let settings = ProxySettings::whole(Duration::from_secs(5), false);
    let client =
        HttpClient::new(&ClientSettings { tls: Some(tls), ..ClientSettings::default() }, &upstream).unwrap();
    let gateway = start_proxy(ProxyTarget::new(settings, upstream.clone(), client)).await;

    let (status, echo) = json_of(reqwest::get(format!("http://{gateway}/named")).await.unwrap()).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["headers"]["host"], serde_json::json!([format!("localhost:{}", backend.port())]));
    assert_eq!(upstream.snapshot().endpoints.iter().filter(|e| e.address == backend.to_string()).count(), 1);
}
