//! The admin page for people: its files are served with their content
//! types and a Content Security Policy, without the admin token (the JSON
//! stays behind it); and in headless Chromium, against a real gateway and
//! the demo backend, the page shows the demo's routes (a hostile policy
//! name as text, not HTML), sends one operation through its "try it"
//! form to the main listener, and shows the upstream turn unhealthy once
//! its backend stops. The screenshot is kept under target/tmp.

use std::{path::PathBuf, sync::Arc, time::Duration};

use protogate::{
    admin::{self, AdminOptions, AdminServer, AdminToken},
    config::Config,
    demo::DemoBackend,
    reload::{ConfigSource, Reloader},
    server::{self, RunningServer},
};

use crate::support::chromium::{self, Browser};

const TOKEN: &str = "page-test-token";

/// Demo routes behind a health-checked upstream; every route may be called
/// from any origin (the page's "try it" form is on the admin origin); a
/// policy whose name is HTML.
const CONFIG: &str = r#"
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }   # metrics are collected for an admin listener (started below)
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo:
    endpoints: ["http://{backend}"]
    health_check: { interval: 100ms, timeout: 500ms, unhealthy_threshold: 1, healthy_threshold: 1 }
policies:
  "<img src=x onerror=window.pwned=1>":
    cors: { allow_origins: ["*"] }
default_policies: ["<img src=x onerror=window.pwned=1>"]
routes:
  - grpc: { service: demo.v1.Library, upstream: demo }
"#;

/// The gateway, its admin listener (with a token and metrics) and the
/// demo backend, as `protogate run` starts them.
struct Served {
    backend: Option<DemoBackend>,
    gateway: RunningServer,
    admin: AdminServer,
    _reloader: Arc<Reloader>,
}

impl Served {
    async fn start() -> Self {
        let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let yaml = CONFIG.replace("{backend}", &backend.addr().to_string());
        let config = Config::from_yaml(&yaml, "test config").unwrap();
        let base_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let source = ConfigSource::Fixed { config: Box::new(config), base_dir };
        let reloader = Reloader::start(source, Vec::new()).await.unwrap_or_else(|error| panic!("{error}"));
        let head = reloader.listeners().head;
        let gateway = reloader.gateway().clone();
        let main = server::start("127.0.0.1:0".parse().unwrap(), head, gateway.clone()).await.unwrap();
        let options = AdminOptions {
            token: Some(AdminToken::new(TOKEN)),
            reloader: Some(reloader.clone()),
            metrics: reloader.metrics().cloned(),
            ..AdminOptions::default()
        };
        let admin = admin::start("127.0.0.1:0".parse().unwrap(), gateway, options).await.unwrap();
        Self { backend: Some(backend), gateway: main, admin, _reloader: reloader }
    }

    fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin.addr())
    }
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_types_and_a_content_security_policy() {
    let served = Served::start().await;
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/ui/page.js", "text/javascript; charset=utf-8"),
        ("/ui/page.css", "text/css; charset=utf-8"),
    ] {
        let response = reqwest::get(served.admin_url(path)).await.unwrap();
        assert_eq!(response.status(), 200, "{path} without the token");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        for directive in
            ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]
        {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        let body = response.text().await.unwrap();
        assert!(!body.contains("http://") && !body.contains("https://"), "{path} names another origin");
    }
    let page = reqwest::get(served.admin_url("/")).await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<script src="/ui/page.js" defer></script>"#), "{page}");
    assert!(!page.contains("<script>"), "an inline script would need 'unsafe-inline': {page}");
    // The JSON the page reads stays behind the token.
    let client = reqwest::Client::new();
    let refused = client.get(served.admin_url("/routes")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let routes: serde_json::Value = client
        .get(served.admin_url("/routes"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let policies = &routes[0]["policies"];
    assert_eq!(policies, &serde_json::json!(["<img src=x onerror=window.pwned=1>"]), "{routes}");
    assert_eq!(client.get(served.admin_url("/ui/missing.js")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn the_demo_lets_its_admin_page_try_every_route() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let admin = "127.0.0.1:9901".parse().unwrap();
    let config =
        protogate::demo::gateway_config(backend.addr(), None, "127.0.0.1:0".parse().unwrap(), Some(admin));
    let demo = [protogate::schema::DescriptorSource::Embedded {
        name: "demo".into(),
        bytes: protogate::proto::DEMO_DESCRIPTOR_SET,
    }];
    let compiled = protogate::compile::compile(&config, std::path::Path::new("."), &demo).await;
    let compiled = compiled.unwrap_or_else(|errors| panic!("{errors}"));
    let gateway = Arc::new(protogate::gateway::Gateway::new(compiled.runtime));
    let main = server::start("127.0.0.1:0".parse().unwrap(), compiled.listeners.head, gateway).await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/shelves/1", main.addr());
    for origin in ["http://127.0.0.1:9901", "http://localhost:9901"] {
        let preflight = client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 204, "{origin}");
        assert_eq!(preflight.headers()["access-control-allow-origin"], origin);
        let answer = client.get(&url).header("origin", origin).send().await.unwrap();
        assert_eq!(
            (answer.status().as_u16(), answer.headers()["access-control-allow-origin"].to_str().unwrap()),
            (200, origin)
        );
    }
    let other = client.get(&url).header("origin", "http://127.0.0.1:9902").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn headless_chromium_shows_routes_tries_an_operation_and_sees_an_upstream_fail() {
    if !chromium::available() {
        return;
    }
    let mut served = Served::start().await;
    let mut browser = Browser::start().await;
    let api = format!("http://{}", served.gateway.addr());
    browser.navigate(&served.admin_url(&format!("/?api={api}#token={TOKEN}"))).await;

    // The page polls every 3 s: each wait allows five polls and more.
    let within = Duration::from_secs(20);
    let route = r#"document.querySelector('#routes tr[data-route="GET /v1/shelves/{shelf}"]')"#;
    browser.wait_for("the demo's routes", &format!("{route} !== null"), within).await;
    let row = browser.eval(&format!("{route}.textContent")).await;
    let row = row.as_str().unwrap();
    assert!(
        row.contains("demo.v1.Library.GetShelf") && row.contains("<img src=x onerror=window.pwned=1>"),
        "{row}"
    );
    assert_eq!(
        browser.eval("window.pwned === undefined && document.querySelector('#routes img') === null").await,
        true
    );
    let healthy = r#"document.querySelector('td[data-upstream="demo"]')?.className"#;
    browser.wait_for("the demo upstream, healthy", &format!("{healthy} === 'healthy'"), within).await;

    // Try GetShelf through the form: it goes to the main listener.
    let operation = r#"document.querySelector('[data-operation="demo.v1.Library.GetShelf"]')"#;
    browser.wait_for("the API reference", &format!("{operation} !== null"), within).await;
    let submitted = format!(
        "(() => {{ const op = {operation}; op.open = true; const form = op.querySelector('form');
           form.elements['param-shelf'].value = '1'; form.requestSubmit(); return true; }})()"
    );
    assert_eq!(browser.eval(&submitted).await, true);
    let output = format!("{operation}.querySelector('pre.response')");
    browser
        .wait_for("the answer to GetShelf", &format!("{output}.dataset.status !== undefined"), within)
        .await;
    let answer = browser.eval(&format!("{output}.textContent")).await;
    let answer = answer.as_str().unwrap().to_owned();
    assert!(answer.contains(&format!("GET {api}/v1/shelves/1\nHTTP 200")), "{answer}");
    assert!(answer.contains(r#""theme": "Fiction""#), "{answer}");

    // The request it sent shows in the route's total.
    let total = format!("{route}.lastElementChild.textContent");
    browser.wait_for("GetShelf counted", &format!("Number({total}) >= 1"), within).await;

    // The backend stops: its upstream turns unhealthy on the page.
    drop(served.backend.take());
    browser.wait_for("the demo upstream, unhealthy", &format!("{healthy} === 'unhealthy'"), within).await;

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin_page.png");
    browser.screenshot(&shot).await;
    eprintln!("the admin page's screenshot: {}", shot.display());
    assert!(browser.errors.is_empty(), "the page had errors: {:?}", browser.errors);
}
