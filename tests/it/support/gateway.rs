//! Starts the real demo backend and the real gateway on 127.0.0.1:0.

use std::{path::Path, sync::Arc};

use protogate::{
    compile,
    config::Config,
    demo::DemoBackend,
    gateway::Gateway,
    server::{self, RunningServer},
};

/// The demo services behind the gateway, with both services routed.
pub const DEMO_CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors:
  - file: descriptors/demo.pb
upstreams:
  demo: { endpoints: ["http://{backend}"] }
routes:
  - grpc: { service: demo.v1.Library, upstream: demo }
  - grpc: { service: demo.v1.Echo, upstream: demo }
"#;

/// The head of a config with the demo backend (`demo`) and an HTTP echo
/// backend (`legacy`, see [`Harness::with_echo_backend`]); routes and
/// policies follow.
pub const DEMO_AND_LEGACY: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
  legacy: { protocol: http, endpoints: ["http://{legacy}"] }
"#;

/// A running backend and gateway, stopped when dropped.
pub struct Harness {
    backend: DemoBackend,
    gateway: RunningServer,
    /// A client for the gateway.
    pub client: reqwest::Client,
}

impl Harness {
    /// The demo config.
    pub async fn start() -> Self {
        Self::with_config(DEMO_CONFIG).await
    }

    /// A config in which `{backend}` stands for the backend's address; paths
    /// are relative to the crate root.
    pub async fn with_config(yaml: &str) -> Self {
        let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let gateway = start_gateway(&yaml.replace("{backend}", &backend.addr().to_string())).await;
        Self { backend, gateway, client: reqwest::Client::new() }
    }

    /// The same, with `{legacy}` standing for the address of a fresh HTTP
    /// echo backend (for pass-through routes).
    pub async fn with_echo_backend(yaml: &str) -> Self {
        let legacy = crate::support::http_backends::start_echo().await;
        Self::with_config(&yaml.replace("{legacy}", &legacy.to_string())).await
    }

    /// The demo backend behind the gateway.
    pub fn backend(&self) -> &DemoBackend {
        &self.backend
    }

    /// Shuts the gateway down with `drain` (the backend stops when dropped);
    /// how many connections it had to close.
    pub async fn shutdown(self, drain: std::time::Duration) -> usize {
        self.gateway.shutdown(drain).await
    }

    /// The gateway's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.gateway.addr()
    }

    /// The gateway URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway.addr())
    }

    /// GET `path`, returning status and body as JSON.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        json_of(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// A request with a JSON body, returning status and body as JSON.
    pub async fn send_json(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = self.client.request(method, self.url(path)).header("content-type", "application/json");
        json_of(request.body(body.to_owned()).send().await.unwrap()).await
    }
}

/// Compiles `yaml` (paths relative to the crate root) and serves it on an ephemeral port.
pub async fn start_gateway(yaml: &str) -> RunningServer {
    let config = Config::from_yaml(yaml, "test config").unwrap();
    let compiled = compile::compile(&config, Path::new(env!("CARGO_MANIFEST_DIR")), &[])
        .await
        .unwrap_or_else(|errors| panic!("the test config does not compile:\n{errors}"));
    let head = compiled.listeners.head;
    server::start("127.0.0.1:0".parse().unwrap(), head, Arc::new(Gateway::new(compiled.runtime)))
        .await
        .unwrap()
}

/// Status and JSON body of a response (panics with the text when it is not JSON).
pub async fn json_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, json)
}
