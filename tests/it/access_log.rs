//! The access log: one JSON line per request with its fields (credentials
//! in the query redacted; a server stream's framing, messages and end),
//! sampling that keeps every server error, and the real binary reopening
//! its file on SIGUSR1 after logrotate moved it.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use protogate::{
    config::Config,
    demo::DemoBackend,
    reload::{ConfigSource, Reloader},
    server::{self, RunningServer},
};
use serde_json::Value;

use crate::support::process::{Running, logged_addr};

const CONFIG: &str = r#"
listen: 127.0.0.1:0
access_log: { path: "{log}"{sample} }
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
  legacy: { protocol: http, endpoints: ["http://{legacy}"] }
policies:
  partners:
    api_key:
      query: partner_code
      keys: [{ consumer: acme, sha256: "{key_hash}" }]
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
  - grpc: { service: demo.v1.Stream, upstream: demo }
  - http: { prefix: /legacy/, upstream: legacy }
  - http: { prefix: /partner/, upstream: legacy }
    policies: [partners]
"#;

/// A gateway whose access log goes to a file, with its backends.
struct Logged {
    _backend: DemoBackend,
    _reloader: std::sync::Arc<Reloader>,
    gateway: RunningServer,
    _dir: tempfile::TempDir,
    log: PathBuf,
    client: reqwest::Client,
}

impl Logged {
    /// `sample` is the YAML of `access_log.sample`, if any (`, sample: 0.5`).
    async fn start(sample: &str) -> Self {
        let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let legacy = crate::support::http_backends::start_echo().await;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        let yaml = CONFIG
            .replace("{log}", log.to_str().unwrap())
            .replace("{sample}", sample)
            .replace("{backend}", &backend.addr().to_string())
            .replace("{legacy}", &legacy.to_string())
            .replace("{key_hash}", &protogate::policy::auth::hash_key("s3cr3t"));
        let config = Config::from_yaml(&yaml, "test config").unwrap();
        let base_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let source = ConfigSource::Fixed { config: Box::new(config), base_dir };
        let reloader = Reloader::start(source, Vec::new()).await.unwrap_or_else(|error| panic!("{error}"));
        let head = reloader.listeners().head;
        let gateway =
            server::start("127.0.0.1:0".parse().unwrap(), head, reloader.gateway().clone()).await.unwrap();
        Self {
            _backend: backend,
            _reloader: reloader,
            gateway,
            _dir: dir,
            log,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway.addr())
    }

    /// Sends `request`, reads its whole body, returns the status.
    async fn send(&self, request: reqwest::RequestBuilder) -> u16 {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        response.bytes().await.unwrap();
        status
    }
}

/// The first `count` lines of `path`, as JSON, once written (5 s at most).
async fn lines(path: &Path, count: usize) -> Vec<Value> {
    let mut text = String::new();
    for _ in 0..250 {
        text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= count {
            return text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{count} lines expected in {}, got:\n{text}", path.display());
}

/// The line of the request with id `id`.
fn line_of<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line["request_id"] == id)
        .unwrap_or_else(|| panic!("no line for {id}: {lines:?}"))
}

#[tokio::test]
async fn one_line_per_request_with_its_fields() {
    let logged = Logged::start("").await;
    let with_id = |request: reqwest::RequestBuilder, id: &str| request.header("x-request-id", id);
    let get = |path: &str, id: &str| {
        with_id(logged.client.get(logged.url(path)), id).header("user-agent", "tester/1")
    };
    assert_eq!(logged.send(get("/v1/echo/a", "transcoded")).await, 200);
    assert_eq!(logged.send(get("/legacy/x?api_key=s3cr3t&page=2", "proxied")).await, 200);
    assert_eq!(logged.send(get("/partner/y?partner_code=s3cr3t", "partner")).await, 200);
    assert_eq!(logged.send(get("/nowhere", "unrouted")).await, 404);
    assert_eq!(logged.send(get("/v1/stream/count/3", "streamed")).await, 200);
    let post = logged.client.post(logged.url("/legacy/upload")).body(vec![b'x'; 1000]);
    assert_eq!(logged.send(with_id(post, "posted")).await, 200);
    let sum = logged.client.post(logged.url("/v1/stream/sum")).header("content-type", "application/x-ndjson");
    assert_eq!(logged.send(with_id(sum.body("{\"index\": 1}\n{\"index\": 2}\n"), "summed")).await, 200);

    let lines = lines(&logged.log, 7).await;
    assert_eq!(lines.len(), 7, "one line per request: {lines:?}");
    let transcoded = line_of(&lines, "transcoded");
    for field in [
        "time",
        "request_id",
        "peer",
        "method",
        "path",
        "route",
        "status",
        "grpc_code",
        "upstream",
        "endpoint",
        "tries",
        "duration_ms",
        "upstream_duration_ms",
        "bytes_in",
        "bytes_out",
        "body",
        "principal",
        "user_agent",
        "tls_version",
        "stream",
    ] {
        assert!(transcoded.get(field).is_some(), "{field} in {transcoded}");
    }
    let time = transcoded["time"].as_str().unwrap();
    assert!(time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    assert!(transcoded["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{transcoded}");
    assert_eq!(
        (&transcoded["method"], &transcoded["path"], &transcoded["route"], &transcoded["status"]),
        (&"GET".into(), &"/v1/echo/a".into(), &"GET /v1/echo/{id}".into(), &200.into())
    );
    assert_eq!(
        (&transcoded["grpc_code"], &transcoded["upstream"], &transcoded["tries"]),
        (&0.into(), &"demo".into(), &1.into())
    );
    assert!(transcoded["endpoint"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{transcoded}");
    assert!(
        transcoded["duration_ms"].as_f64().unwrap() >= transcoded["upstream_duration_ms"].as_f64().unwrap()
    );
    assert!(transcoded["bytes_out"].as_u64().unwrap() > 0, "{transcoded}");
    assert_eq!((&transcoded["body"], &transcoded["user_agent"]), (&"complete".into(), &"tester/1".into()));
    assert_eq!((&transcoded["tls_version"], &transcoded["stream"]), (&Value::Null, &Value::Null));

    let proxied = line_of(&lines, "proxied");
    assert_eq!(proxied["path"], "/legacy/x?api_key=REDACTED&page=2", "credentials never logged");
    assert_eq!((&proxied["route"], &proxied["grpc_code"]), (&"/legacy/".into(), &Value::Null));
    let partner = line_of(&lines, "partner");
    assert_eq!(partner["path"], "/partner/y?partner_code=REDACTED", "the policy's own parameter too");
    assert_eq!(partner["principal"], "acme");
    let unrouted = line_of(&lines, "unrouted");
    assert_eq!(
        (&unrouted["status"], &unrouted["route"], &unrouted["upstream"]),
        (&404.into(), &Value::Null, &Value::Null)
    );
    assert_eq!((&unrouted["grpc_code"], &unrouted["tries"]), (&5.into(), &0.into()));
    let streamed = line_of(&lines, "streamed");
    assert_eq!(
        streamed["stream"],
        serde_json::json!({ "framing": "ndjson", "messages": 3, "received": null, "end": "complete" })
    );
    assert_eq!(
        line_of(&lines, "summed")["stream"],
        serde_json::json!({ "framing": "json", "messages": 1, "received": 2, "end": "complete" })
    );
    assert_eq!(line_of(&lines, "posted")["bytes_in"], 1000);
}

#[tokio::test]
async fn sampling_keeps_its_share_and_every_server_error() {
    let logged = Logged::start(", sample: 0.5").await;
    for n in 0..10 {
        let request =
            logged.client.get(logged.url(&format!("/v1/echo/{n}"))).header("x-request-id", format!("ok-{n}"));
        assert_eq!(logged.send(request).await, 200);
    }
    for n in 0..3 {
        let request =
            logged.client.get(logged.url("/v1/fail/14")).header("x-request-id", format!("failed-{n}"));
        assert_eq!(logged.send(request).await, 503);
    }
    // The last request's line is the 8th; wait for it, then for nothing more.
    let lines = lines(&logged.log, 8).await;
    let ids: Vec<&str> = lines.iter().map(|line| line["request_id"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().filter(|id| id.starts_with("ok-")).count(), 5, "half of the 200s: {ids:?}");
    assert_eq!(ids.iter().filter(|id| id.starts_with("failed-")).count(), 3, "every 503: {ids:?}");
}

#[tokio::test]
async fn the_binary_reopens_its_log_on_sigusr1() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    let log = dir.path().join("access.log");
    let yaml = format!(
        "listen: 127.0.0.1:0\naccess_log: {{ path: access.log }}\n\
         descriptors: [{{ file: {}/descriptors/demo.pb }}]\n\
         upstreams: {{ demo: {{ endpoints: [\"http://{}\"] }} }}\n\
         routes: [{{ grpc: {{ service: demo.v1.Echo, upstream: demo }} }}]\n",
        env!("CARGO_MANIFEST_DIR"),
        backend.addr()
    );
    std::fs::write(&config, yaml).unwrap();
    let running = Running::start(&["run", "--config", config.to_str().unwrap()]);
    let gateway = logged_addr(&running.line_where(|line| line.contains("protogate is serving")), "addr");
    let get = |path: &'static str| {
        let url = format!("http://{gateway}{path}");
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert_eq!(get("/v1/echo/before").await, 200);
    assert_eq!(lines(&log, 1).await[0]["path"], "/v1/echo/before", "a relative path is the config file's");

    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let signalled = Command::new("kill").args(["-USR1", &running.pid().to_string()]).status().unwrap();
    assert!(signalled.success());
    running.line_where(|line| line.contains("access log reopened"));
    assert_eq!(get("/v1/echo/after").await, 200);
    assert_eq!(lines(&log, 1).await[0]["path"], "/v1/echo/after", "the new file gets the new lines");
    assert_eq!(lines(&rotated, 1).await.len(), 1, "the rotated file keeps its own");
}
