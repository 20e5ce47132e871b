//! Hot reload with real components: a config compiled beside the running
//! one and swapped in, the state of what did not change kept (connections,
//! rate-limit buckets), a broken config refused while the old one serves,
//! the file watcher, SIGHUP on the real binary, and reloads under load.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use protogate::{
    admin,
    demo::DemoBackend,
    reload::{ConfigSource, ReloadResult, Reloader, Trigger},
    server::{self, RunningServer},
};
use tempfile::TempDir;

use crate::support::{
    counting_proxy::CountingProxy,
    gateway::json_of,
    process::{Running, logged_addr},
};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// A config directory, the gateway serving it and its reloader.
struct Site {
    dir: TempDir,
    reloader: Arc<Reloader>,
    server: RunningServer,
    client: reqwest::Client,
}

impl Site {
    /// Writes `yaml` as the config (with `{demo_pb}` standing for the demo
    /// descriptor set) and serves it.
    async fn start(yaml: &str) -> Self {
        Self::start_with(yaml, &[]).await
    }

    /// The same, with `files` (path in the directory, text) written first.
    async fn start_with(yaml: &str, files: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            write(&dir.path().join(path), text);
        }
        write(&dir.path().join("gateway.yaml"), yaml);
        let source = ConfigSource::File(dir.path().join("gateway.yaml"));
        let reloader = Reloader::start(source, Vec::new()).await.unwrap_or_else(|error| panic!("{error}"));
        let head = reloader.listeners().head;
        let server =
            server::start("127.0.0.1:0".parse().unwrap(), head, reloader.gateway().clone()).await.unwrap();
        Self { dir, reloader, server, client: reqwest::Client::new() }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("gateway.yaml")
    }

    fn rewrite(&self, yaml: &str) {
        write(&self.config_path(), yaml);
    }

    async fn status_of(&self, path: &str) -> u16 {
        let url = format!("http://{}{path}", self.server.addr());
        self.client.get(url).send().await.unwrap().status().as_u16()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text = text.replace("{demo_pb}", &format!("{MANIFEST}/descriptors/demo.pb"));
    std::fs::write(path, text).unwrap();
}

fn demo_config(backend: impl std::fmt::Display, extra_upstream: &str, routes: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\ndescriptors:\n  - file: {{demo_pb}}\nupstreams:\n  demo: {{ endpoints: [\"http://{backend}\"]{extra_upstream} }}\nroutes:\n{routes}"
    )
}

const ECHO_ROUTE: &str = "  - grpc: { service: demo.v1.Echo, upstream: demo }\n";
const LIBRARY_ROUTE: &str = "  - grpc: { service: demo.v1.Library, upstream: demo }\n";

#[tokio::test]
async fn an_unchanged_upstream_keeps_its_connection_and_a_changed_one_gets_a_new_one() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let proxy = CountingProxy::start(backend.addr()).await;
    let site = Site::start(&demo_config(proxy.addr(), "", ECHO_ROUTE)).await;
    assert_eq!(site.status_of("/v1/echo/a").await, 200);
    assert_eq!(site.status_of("/v1/shelves").await, 404);
    assert_eq!(proxy.accepted(), 1);

    site.rewrite(&demo_config(proxy.addr(), "", &format!("{ECHO_ROUTE}{LIBRARY_ROUTE}")));
    let report = site.reloader.reload(Trigger::Admin).await;
    assert_eq!((report.result, report.generation), (ReloadResult::Ok, 2), "{:?}", report.errors);
    assert!(report.routes.added.iter().any(|route| route.template == "/v1/shelves"), "{:?}", report.routes);
    assert_eq!(site.status_of("/v1/shelves").await, 200);
    assert_eq!(site.status_of("/v1/echo/b").await, 200);
    assert_eq!(proxy.accepted(), 1, "an unchanged upstream keeps its connection");

    site.rewrite(&demo_config(proxy.addr(), ", connect_timeout: 2s", ECHO_ROUTE));
    let report = site.reloader.reload(Trigger::Admin).await;
    assert_eq!((report.result, report.generation), (ReloadResult::Ok, 3), "{:?}", report.errors);
    assert!(report.routes.removed.iter().any(|route| route.template == "/v1/shelves"), "{:?}", report.routes);
    assert_eq!(site.status_of("/v1/echo/c").await, 200);
    assert_eq!(site.status_of("/v1/shelves").await, 404);
    assert_eq!(proxy.accepted(), 2, "a changed upstream starts with a new connection");
    assert_eq!((site.reloader.reloads_succeeded(), site.reloader.reloads_failed()), (2, 0));
}

#[tokio::test]
async fn a_broken_reload_is_refused_while_the_old_config_serves() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let yaml = format!(
        "admin: {{ listen: 127.0.0.1:0 }}\npolicies:\n  keys: {{ api_key: {{ keys: [{{ consumer: ci, sha256: \"{}\" }}] }} }}\n{}",
        protogate::policy::auth::hash_key("the-key"),
        demo_config(backend.addr(), "", ECHO_ROUTE)
    );
    let site = Site::start(&yaml).await;
    let options = admin::AdminOptions { reloader: Some(site.reloader.clone()), ..Default::default() };
    let gateway = site.reloader.gateway().clone();
    let admin = admin::start("127.0.0.1:0".parse().unwrap(), gateway, options).await.unwrap();
    let admin_url = |path: &str| format!("http://{}{path}", admin.addr());

    site.rewrite(&yaml.replace("upstream: demo", "upstream: demoo"));
    let report = site.reloader.reload(Trigger::Admin).await;
    assert_eq!((report.result, report.generation), (ReloadResult::Failed, 1));
    assert!(
        report
            .errors
            .iter()
            .any(|error| error.contains("routes[0].grpc.upstream: unknown upstream \"demoo\"")),
        "{:?}",
        report.errors
    );
    assert_eq!(site.status_of("/v1/echo/a").await, 200, "the old config serves on");

    let (status, body) = json_of(site.client.post(admin_url("/reload")).send().await.unwrap()).await;
    assert_eq!((status, &body["result"]), (422, &serde_json::json!("failed")), "{body}");
    let (status, config) = json_of(site.client.get(admin_url("/config")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(config["generation"], 1);
    assert_eq!(config["reloads"]["failed"], 2);
    assert_eq!(config["last_reload"]["result"], "failed");
    assert!(
        config["last_reload"]["errors"][0].as_str().unwrap().contains("routes[0].grpc.upstream"),
        "{config}"
    );
    assert!(config["last_reload"]["time"].as_str().unwrap().ends_with("GMT"), "{config}");
    assert_eq!(
        config["config"]["policies"]["keys"]["api_key"]["keys"][0]["sha256"],
        protogate::config::REDACTED
    );
    assert_eq!(config["config"]["policies"]["keys"]["api_key"]["keys"][0]["consumer"], "ci");

    site.rewrite(&yaml.replace("listen: 127.0.0.1:0\n", "listen: 127.0.0.2:0\n"));
    let report = site.reloader.reload(Trigger::Admin).await;
    assert_eq!(report.result, ReloadResult::Failed);
    assert_eq!(report.errors, ["listen changed: 127.0.0.1:0 → 127.0.0.2:0: restart needed"]);

    site.rewrite(&yaml.replace(ECHO_ROUTE, &format!("{ECHO_ROUTE}{LIBRARY_ROUTE}")));
    let (status, body) =
        json_of(site.client.post(admin_url("/reload?dry_run=true")).send().await.unwrap()).await;
    assert_eq!((status, &body["result"], &body["dry_run"]), (200, &"ok".into(), &true.into()), "{body}");
    assert!(
        body["routes"]["added"].as_array().unwrap().iter().any(|r| r["template"] == "/v1/shelves"),
        "{body}"
    );
    assert_eq!(site.status_of("/v1/shelves").await, 404, "a dry run swaps nothing");
    assert_eq!(site.reloader.generation(), 1);

    let (status, body) = json_of(site.client.post(admin_url("/reload")).send().await.unwrap()).await;
    assert_eq!((status, &body["generation"]), (200, &2.into()), "{body}");
    assert_eq!(site.status_of("/v1/shelves").await, 200);
    let (_, config) = json_of(site.client.get(admin_url("/config")).send().await.unwrap()).await;
    assert_eq!(
        (&config["generation"], &config["last_reload"]["result"]),
        (&2.into(), &"ok".into()),
        "{config}"
    );
    admin.shutdown().await;
}

#[tokio::test]
async fn rate_limit_buckets_survive_a_reload() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let yaml = |routes: &str| {
        format!(
            "policies:\n  slow: {{ rate_limit: {{ key: ip, rate: 1/h, burst: 2 }} }}\ndefault_policies: [slow]\n{}",
            demo_config(backend.addr(), "", routes)
        )
    };
    let site = Site::start(&yaml(ECHO_ROUTE)).await;
    assert_eq!(site.status_of("/v1/echo/a").await, 200);
    assert_eq!(site.status_of("/v1/echo/a").await, 200);
    assert_eq!(site.status_of("/v1/echo/a").await, 429);

    site.rewrite(&yaml(&format!("{ECHO_ROUTE}{LIBRARY_ROUTE}")));
    let report = site.reloader.reload(Trigger::Admin).await;
    assert_eq!(report.result, ReloadResult::Ok, "{:?}", report.errors);
    assert_eq!(site.status_of("/v1/echo/a").await, 429, "the exhausted bucket is kept");
    assert_eq!(site.status_of("/v1/shelves").await, 429, "the same policy, the same bucket");

    site.rewrite(&yaml(ECHO_ROUTE).replace("burst: 2", "burst: 3"));
    assert_eq!(site.reloader.reload(Trigger::Admin).await.result, ReloadResult::Ok);
    assert_eq!(site.status_of("/v1/echo/a").await, 200, "a changed policy starts with full buckets");
}

/// echo.proto, with one more binding of Echo when `extra` is set.
fn echo_proto(extra: bool) -> String {
    let proto = std::fs::read_to_string(format!("{MANIFEST}/proto/demo/v1/echo.proto")).unwrap();
    let first = "get: \"/v1/echo/{id}\"";
    assert!(proto.contains(first), "echo.proto changed: update this test");
    let second = format!("{first}\n      additional_bindings {{ get: \"/v2/echo/{{id}}\" }}");
    if extra { proto.replacen(first, &second, 1) } else { proto }
}

/// The demo's .proto sources, echo.proto with or without its extra binding.
fn protos(extra: bool) -> [(&'static str, String); 2] {
    let library = std::fs::read_to_string(format!("{MANIFEST}/proto/demo/v1/library.proto")).unwrap();
    [(ECHO_PROTO, echo_proto(extra)), ("protos/demo/v1/library.proto", library)]
}

const ECHO_PROTO: &str = "protos/demo/v1/echo.proto";

fn proto_config(backend: impl std::fmt::Display, routes: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\ndescriptors:\n  - proto: protos\nupstreams:\n  demo: {{ endpoints: [\"http://{backend}\"] }}\nroutes:\n{routes}"
    )
}

/// Polls `path` until it answers `want` (10s at most); the last status.
async fn wait_for(site: &Site, path: &str, want: u16) -> u16 {
    let mut status = 0;
    for _ in 0..100 {
        status = site.status_of(path).await;
        if status == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}

#[tokio::test]
async fn a_descriptor_change_adds_a_route_without_restart() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let site = Site::start_with(&proto_config(backend.addr(), ECHO_ROUTE), &protos(false)).await;
    let _triggers = site.reloader.start_triggers().unwrap();
    assert_eq!(site.status_of("/v2/echo/a").await, 404);

    write(&site.dir.path().join(ECHO_PROTO), &echo_proto(true));
    assert_eq!(wait_for(&site, "/v2/echo/a", 200).await, 200, "the watcher reloaded the changed .proto");
    assert_eq!(site.reloader.generation(), 2);

    site.rewrite(&proto_config(backend.addr(), &format!("{ECHO_ROUTE}{LIBRARY_ROUTE}")));
    assert_eq!(wait_for(&site, "/v1/shelves", 200).await, 200, "the watcher reloaded the changed config");
}

#[tokio::test]
async fn ten_reloads_under_load_fail_no_request() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let proxy = CountingProxy::start(backend.addr()).await;
    let site = Arc::new(Site::start_with(&proto_config(proxy.addr(), ECHO_ROUTE), &protos(false)).await);
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (site, stop, served, failed) = (site.clone(), stop.clone(), served.clone(), failed.clone());
            tokio::spawn(async move {
                for request in 0..100_000u64 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match site.status_of(&format!("/v1/echo/{client}-{request}")).await {
                        200 => served.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for round in 1..=10u64 {
        let before = served.load(Ordering::Relaxed);
        let routes =
            if round % 2 == 1 { format!("{ECHO_ROUTE}{LIBRARY_ROUTE}") } else { ECHO_ROUTE.to_owned() };
        site.rewrite(&proto_config(proxy.addr(), &routes));
        write(&site.dir.path().join(ECHO_PROTO), &echo_proto(round % 2 == 1));
        let report = site.reloader.reload(Trigger::Admin).await;
        assert_eq!((report.result, report.generation), (ReloadResult::Ok, round + 1), "{:?}", report.errors);
        let (shelves, v2) = if round % 2 == 1 { (200, 200) } else { (404, 404) };
        assert_eq!((site.status_of("/v1/shelves").await, site.status_of("/v2/echo/x").await), (shelves, v2));
        for _ in 0..1000 {
            if served.load(Ordering::Relaxed) >= before + 20 {
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let (served, failed) = (served.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("ten reloads under load: {served} requests served, {failed} failed");
    assert_eq!(failed, 0);
    assert!(served >= 200, "{served}");
    assert_eq!(proxy.accepted(), 1, "the upstream kept its one connection through ten reloads");
}

/// `count` generated services of ten bound methods each, as one .proto,
/// and the config routes serving them beside Echo.
fn many_services(count: usize) -> (String, String) {
    let mut proto = String::from(
        "syntax = \"proto3\";\npackage many.v1;\nimport \"google/api/annotations.proto\";\n\
         message Req { string id = 1; string parent = 2; }\nmessage Res { string id = 1; }\n",
    );
    let mut routes = ECHO_ROUTE.to_owned();
    for n in 0..count {
        proto.push_str(&format!("service S{n} {{\n"));
        for m in 0..10 {
            proto.push_str(&format!(
                "  rpc M{m}(Req) returns (Res) {{ option (google.api.http) = {{ get: \"/v1/s{n}/m{m}/{{parent}}/{{id}}\" }}; }}\n"
            ));
        }
        proto.push_str("}\n");
        routes.push_str(&format!("  - grpc: {{ service: many.v1.S{n}, upstream: demo }}\n"));
    }
    (proto, routes)
}

/// A reload compiles off the request workers: on this test's runtime of
/// one thread, requests sent while a config of 1 000 routes compiles are
/// answered before the reload's report arrives (a compile that held the
/// thread would let one request through at most, after it).
#[tokio::test]
async fn requests_are_answered_while_a_large_config_compiles() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (proto, routes) = many_services(100);
    let yaml = format!(
        "listen: 127.0.0.1:0\ndescriptors:\n  - file: {{demo_pb}}\n  - proto: many\nupstreams:\n  demo: {{ endpoints: [\"http://{}\"] }}\nroutes:\n{routes}",
        backend.addr()
    );
    let site = Site::start_with(&yaml, &[("many/many.proto", proto)]).await;
    assert_eq!(site.status_of("/v1/echo/a").await, 200);

    let reloader = site.reloader.clone();
    let reload = tokio::spawn(async move { reloader.reload(Trigger::Admin).await });
    let mut answered_before_the_report = 0;
    while !reload.is_finished() && answered_before_the_report < 100_000 {
        assert_eq!(site.status_of("/v1/echo/a").await, 200);
        answered_before_the_report += 1;
    }
    let report = reload.await.unwrap();
    assert_eq!((report.result, report.generation), (ReloadResult::Ok, 2), "{:?}", report.errors);
    eprintln!("{answered_before_the_report} requests answered during the reload");
    // One request would show it; five leave a margin for a slow machine.
    assert!(
        answered_before_the_report >= 5,
        "{answered_before_the_report} requests answered during the reload"
    );
}

#[tokio::test]
async fn sighup_reloads_the_real_binary() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    write(
        &config,
        &format!("admin: {{ listen: 127.0.0.1:0 }}\n{}", demo_config(backend.addr(), "", ECHO_ROUTE)),
    );
    let mut running = Running::start(&["run", "--config", config.to_str().unwrap()]);
    // The admin listener starts (and is logged) first.
    let admin = logged_addr(&running.line_where(|line| line.contains("the admin API is serving")), "addr");
    let gateway = logged_addr(&running.line_where(|line| line.contains("protogate is serving")), "addr");
    let client = reqwest::Client::new();
    let status = |path: String| {
        let client = client.clone();
        async move { client.get(path).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(format!("http://{gateway}/v1/echo/a")).await, 200);

    // The file is left as it is, so that only the signal can reload it.
    let killed = Command::new("kill").args(["-HUP", &running.pid().to_string()]).status().unwrap();
    assert!(killed.success());
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, config) = json_of(client.get(format!("http://{admin}/config")).send().await.unwrap()).await;
        last = config;
        if last["generation"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!running.has_exited(), "SIGHUP does not end the process");
    assert_eq!(
        (&last["generation"], &last["last_reload"]["trigger"]),
        (&2.into(), &"signal".into()),
        "{last}"
    );
    assert_eq!(status(format!("http://{gateway}/v1/echo/b")).await, 200);
    // The binary serves its metrics on the admin listener, the reload counted.
    let metrics = client.get(format!("http://{admin}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("protogate_config_reloads_total{result=\"success\"} 1\n"), "{metrics}");
}

#[test]
fn diff_lists_the_routes_a_config_adds_and_removes() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.yaml"), dir.path().join("new.yaml"));
    write(&old, &demo_config("127.0.0.1:1", "", LIBRARY_ROUTE));
    write(&new, &demo_config("127.0.0.1:1", "", ECHO_ROUTE));
    let output = Command::new(env!("CARGO_BIN_EXE_protogate"))
        .args(["diff", "--config"])
        .arg(&new)
        .arg("--against")
        .arg(&old)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.lines().any(|line| line == "+ GET /v1/echo/{id} → demo.v1.Echo.Echo (demo)"), "{text}");
    assert!(
        text.lines().any(|line| line.starts_with("- GET /v1/shelves → demo.v1.Library.ListShelves")),
        "{text}"
    );
}

/// A JWT policy is kept by a reload when its settings are equal: the same
/// key file read twice compares equal, another key does not.
#[test]
fn jwt_settings_compare_by_their_keys_contents() {
    use protogate::{
        compile::{CompileErrors, Place, jwt_settings},
        config::Config,
    };
    let settings = |file: &str| {
        let yaml = format!(
            "policies:\n  p: {{ jwt: {{ algorithms: [RS256], public_key_file: tests/data/keys/{file}, audiences: [] }} }}"
        );
        let config = Config::from_yaml(&yaml, "t").unwrap();
        let jwt = config.policies["p"].jwt.as_ref().unwrap();
        let mut errors = CompileErrors::default();
        let settings = jwt_settings(jwt, Path::new(MANIFEST), &Place::root(), &mut errors);
        assert!(errors.is_empty(), "{errors}");
        settings.unwrap()
    };
    assert_eq!(settings("rsa.pub"), settings("rsa.pub"));
    assert_ne!(settings("rsa.pub"), settings("rsa2.pub"));
}

#[tokio::test]
async fn an_unchanged_jwt_policy_keeps_its_jwks_and_a_changed_one_fetches_again() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let jwks = crate::jwks::JwksServer::start(vec![crate::jwks::k1()]).await;
    let yaml = |audience: &str| {
        format!(
            "policies:\n  auth: {{ jwt: {{ jwks: {{ url: \"http://{}/jwks.json\" }}, audiences: [{audience}] }} }}\ndefault_policies: [auth]\n{}",
            jwks.addr,
            demo_config(backend.addr(), "", ECHO_ROUTE)
        )
    };
    let site = Site::start(&yaml("api")).await;
    assert_eq!(jwks.hits("/jwks.json"), 1);

    site.rewrite(&yaml("api").replace(ECHO_ROUTE, &format!("{ECHO_ROUTE}{LIBRARY_ROUTE}")));
    assert_eq!(site.reloader.reload(Trigger::Admin).await.result, ReloadResult::Ok);
    assert_eq!(jwks.hits("/jwks.json"), 1, "an unchanged JWT policy keeps its keys");
    assert_eq!(site.status_of("/v1/shelves").await, 401, "and still guards every route");

    site.rewrite(&yaml("other"));
    assert_eq!(site.reloader.reload(Trigger::Admin).await.result, ReloadResult::Ok);
    assert_eq!(jwks.hits("/jwks.json"), 2, "a changed JWT policy starts fresh");
}
