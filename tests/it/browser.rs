//! A real browser against the demo: `protogate demo` (the real binary)
//! prints the address of its streams page, served through the gateway by a
//! pass-through route; headless Chromium (Debian's `chromium`, installed by
//! .ci/run), driven over the DevTools protocol, loads it. The page opens
//! an `EventSource` on a server stream, a `WebSocket` on the bidirectional
//! Chat stream, a streaming `fetch` of NDJSON, and two gRPC-Web `fetch`es
//! with frames built and parsed by hand (a unary call in binary mode, a
//! server stream in text mode), and writes what each saw into the page.
//! Fails under CI=true when chromium is missing, skips loudly otherwise.

use std::time::Duration;

use crate::support::{
    chromium::{self, Browser},
    process::Running,
};

/// What the page writes once every call ended.
const SEEN: &str = r#"["sse:0,1,2","ws:5,6:1000","fetch:0,1","grpc-web:Fiction:grpc-status: 0","grpc-web-text:0,1,2:grpc-status: 0"]"#;

#[tokio::test]
async fn headless_chromium_streams_through_event_source_websocket_fetch_and_grpc_web() {
    if !chromium::available() {
        return;
    }
    let demo = Running::demo();
    let line = demo.line_where(|line| line.starts_with("Streams in a browser"));
    let url = line.rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/demo/streams.html"), "{line}");

    let mut browser = Browser::start().await;
    browser.navigate(&url).await;
    let done = "document.getElementById('out')?.dataset.done === 'true'";
    browser.wait_for("every call on the demo's page to end", done, Duration::from_secs(30)).await;
    let seen = browser.eval("document.getElementById('out').textContent").await;
    assert_eq!(seen.as_str(), Some(SEEN), "the page did not see the streams; errors: {:?}", browser.errors);
    let failed = browser.eval("document.querySelectorAll('#checks li[data-ok=\"false\"]').length").await;
    assert_eq!(failed, 0, "{seen}");
}
