//! Headless Chromium (Debian's `chromium`, installed by .ci/run) for the
//! browser tests: whether it is there (a test fails under CI=true without
//! it, skips loudly otherwise), and a browser driven over the DevTools protocol
//! ([`Browser`]: navigate, evaluate, screenshot, the page's uncaught
//! errors). Every wait is bounded; the browser is killed when dropped.

use std::{
    io::Write,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

/// The flags every run takes.
const HEADLESS: [&str; 4] = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"];

/// How long the browser may take to start, or to answer one command.
const PATIENCE: Duration = Duration::from_secs(30);

/// Whether chromium runs here; when it does not, panics under CI=true and
/// otherwise prints a loud skip (the caller returns).
pub fn available() -> bool {
    let installed = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        let message = "chromium is not installed: install it (apt-get install chromium) to run this test";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        let _ = writeln!(std::io::stderr(), "\n!!!!!!!! SKIPPED: {message} !!!!!!!!\n");
    }
    installed
}

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless chromium with one page, driven over the DevTools protocol.
pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    /// The page's uncaught exceptions and console errors, as they came.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromium on `about:blank` (its DevTools port chosen by itself
    /// and read from its profile) and attaches to its page.
    pub async fn start() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new("chromium")
            .args(HEADLESS)
            .args(["--remote-debugging-port=0", "--window-size=1280,1600"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let port = devtools_port(profile.path()).await;
        let pages: Value =
            reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await.unwrap().json().await.unwrap();
        let page = pages.as_array().and_then(|pages| pages.iter().find(|page| page["type"] == "page"));
        let url = page.and_then(|page| page["webSocketDebuggerUrl"].as_str()).unwrap().to_owned();
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut browser = Self { child, socket, next_id: 0, errors: Vec::new(), _profile: profile };
        browser.call("Runtime.enable", json!({})).await;
        browser.call("Page.enable", json!({})).await;
        browser
    }

    /// Sends one command and returns its result (events that come before
    /// it are kept in `errors` when they are errors).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let command = json!({ "id": id, "method": method, "params": params }).to_string();
        self.socket.send(Message::text(command)).await.unwrap();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next()).await;
            let message =
                message.unwrap_or_else(|_| panic!("chromium did not answer {method} within {PATIENCE:?}"));
            let Some(Ok(Message::Text(text))) = message else { continue };
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method} failed: {message}");
                return message["result"].clone();
            }
            self.keep_error(&message);
        }
    }

    fn keep_error(&mut self, event: &Value) {
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                self.errors.push(event["params"]["exceptionDetails"].to_string())
            }
            Some("Runtime.consoleAPICalled") if event["params"]["type"] == "error" => {
                self.errors.push(event["params"]["args"].to_string())
            }
            _ => {}
        }
    }

    /// Opens `url`.
    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
    }

    /// The value of `expression` in the page (a promise is awaited).
    pub async fn eval(&mut self, expression: &str) -> Value {
        let params = json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let result = self.call("Runtime.evaluate", params).await;
        assert!(result.get("exceptionDetails").is_none(), "{expression} threw: {result}");
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` every 50 ms until it is `true`; panics naming
    /// `what` (and showing `shown`'s value) after `within`.
    pub async fn wait_for(&mut self, what: &str, expression: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.eval(expression).await != json!(true) {
            assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the page, written to `path`.
    pub async fn screenshot(&mut self, path: &Path) {
        let result = self
            .call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true }))
            .await;
        let png = base64::engine::general_purpose::STANDARD.decode(result["data"].as_str().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The DevTools port chromium wrote into its profile (polled every 50 ms
/// for up to [`PATIENCE`]).
async fn devtools_port(profile: &Path) -> u16 {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(port) =
            std::fs::read_to_string(&file).ok().and_then(|text| text.lines().next()?.parse().ok())
        {
            return port;
        }
        assert!(Instant::now() < deadline, "chromium wrote no DevTools port within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
