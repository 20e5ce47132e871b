//! A real browser against the gateway: headless Chromium (Debian's
//! `chromium`, installed by .ci/run) loads a page served through the
//! gateway that opens an `EventSource` on a server stream, a `WebSocket` on
//! the bidirectional Chat stream, a streaming `fetch` of NDJSON, and two
//! gRPC-Web `fetch`es with frames built and parsed by hand in the page (a
//! unary call in binary mode, a server stream in text mode), and
//! reports what each saw to the page's server (an image on the page holds
//! its load, and so `--dump-dom`, until then; chromium then exits). Fails
//! under CI=true when chromium is missing, skips loudly otherwise.

use std::time::Duration;

use std::sync::Arc;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::{mpsc, watch},
};

use crate::support::{
    chromium,
    gateway::{DEMO_AND_LEGACY, Harness},
};

/// The page: each check appends its line; the last one writes them all
/// into the `pre` (which says `pending` until then).
const PAGE: &str = r#"<!doctype html><html><body><img src="/page/hold"><pre id="out">pending</pre><script>
const out = [];
const finish = () => {
  document.getElementById('out').textContent = JSON.stringify(out);
  fetch('/page/report?' + encodeURIComponent(JSON.stringify(out)));
};
const fail = (what, e) => { out.push(what + ' failed: ' + e); finish(); };
const seen = [];
const events = new EventSource('/v1/stream/count/3');
events.onmessage = e => seen.push(JSON.parse(e.data).index);
events.onerror = () => { events.close(); out.push('sse:' + seen.join(',')); socket(); };
function socket() {
  const ws = new WebSocket('ws://' + location.host + '/v1/stream/chat');
  const got = [];
  ws.onopen = () => { ws.send('{"index":5}'); ws.send('{"index":6}'); ws.send(''); };
  ws.onmessage = e => got.push(JSON.parse(e.data).result.index);
  ws.onclose = e => { out.push('ws:' + got.join(',') + ':' + e.code); streamed().catch(e => fail('fetch', e)); };
}
async function streamed() {
  const response = await fetch('/v1/stream/count/2', { headers: { accept: 'application/x-ndjson' } });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  out.push('fetch:' + text.trim().split('\n').map(l => JSON.parse(l).result.index).join(','));
  await grpcWebCalls();
  finish();
}
// gRPC-Web by hand: a frame is a flag byte, a 4-byte big-endian length and
// the protobuf bytes; the answer's last frame (flag 0x80) holds the status.
const frame = payload => {
  const bytes = new Uint8Array(5 + payload.length);
  new DataView(bytes.buffer).setUint32(1, payload.length);
  bytes.set(payload, 5);
  return bytes;
};
function frames(bytes) {
  const list = [];
  for (let at = 0; at < bytes.length;) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
    list.push({ flag: bytes[at], body: bytes.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return list;
}
// A protobuf message's fields by number: varints as numbers, length-delimited ones as bytes.
function fields(bytes) {
  const found = {};
  let at = 0;
  const varint = () => {
    let value = 0, shift = 0, byte;
    do { byte = bytes[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return value;
  };
  while (at < bytes.length) {
    const key = varint();
    if ((key & 7) === 0) { found[key >> 3] = varint(); continue; }
    if ((key & 7) !== 2) throw new Error('wire type ' + (key & 7));
    const length = varint();
    found[key >> 3] = bytes.subarray(at, at + length);
    at += length;
  }
  return found;
}
// POSTs one request message to `method` (binary or text mode), reads the
// body chunk by chunk; the reply messages' fields and the status line.
async function grpcWeb(method, payload, text) {
  const body = text ? btoa(String.fromCharCode(...frame(payload))) : frame(payload);
  const contentType = text ? 'application/grpc-web-text' : 'application/grpc-web+proto';
  const response = await fetch('/' + method, {
    method: 'POST', headers: { 'content-type': contentType, 'x-grpc-web': '1' }, body,
  });
  const reader = response.body.getReader();
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(...value);
  }
  const bytes = text ? Uint8Array.from(atob(String.fromCharCode(...chunks)), c => c.charCodeAt(0)) : Uint8Array.from(chunks);
  const all = frames(bytes);
  const trailer = all.pop();
  if (!trailer || trailer.flag !== 0x80) throw new Error('no trailer frame');
  const status = new TextDecoder().decode(trailer.body).split('\r\n').filter(l => l).join(';');
  return { replies: all.map(f => fields(f.body)), status };
}
async function grpcWebCalls() {
  try {
    // GetShelfRequest { shelf: 1 }: field 1, varint 1. Shelf.theme is field 2.
    const shelf = await grpcWeb('demo.v1.Library/GetShelf', new Uint8Array([0x08, 0x01]), false);
    const theme = shelf.replies.map(r => new TextDecoder().decode(r[2])).join(',');
    out.push('grpc-web:' + theme + ':' + shelf.status);
    // CountRequest { count: 3 }: a server stream of CountReply { index = 1 } (0 is left out).
    const count = await grpcWeb('demo.v1.Stream/Count', new Uint8Array([0x08, 0x03]), true);
    out.push('grpc-web-text:' + count.replies.map(r => r[1] ?? 0).join(',') + ':' + count.status);
  } catch (e) {
    out.push('grpc-web failed: ' + e);
  }
}
</script></body></html>"#;

/// Serves `PAGE`, takes its report (`/page/report?<result>`, sent to
/// `reports`) and holds `/page/hold` until a report came.
async fn start_page(reports: mpsc::Sender<String>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (reported, _) = watch::channel(false);
    let reported = Arc::new(reported);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (reports, reported) = (reports.clone(), reported.clone());
            tokio::spawn(async move {
                let mut head = vec![0u8; 8192];
                let read = stream.read(&mut head).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&head[..read]).into_owned();
                let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
                let (content_type, body) = if let Some(query) = target.strip_prefix("/page/report?") {
                    let report = percent_encoding::percent_decode_str(query).decode_utf8_lossy().into_owned();
                    let _ = reports.send(report).await;
                    reported.send_replace(true);
                    ("text/plain", String::new())
                } else if target == "/page/hold" {
                    let mut seen = reported.subscribe();
                    let _ = tokio::time::timeout(Duration::from_secs(30), seen.wait_for(|done| *done)).await;
                    ("text/plain", String::new())
                } else {
                    ("text/html", PAGE.to_owned())
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn headless_chromium_streams_through_event_source_websocket_fetch_and_grpc_web() {
    if !chromium::available() {
        return;
    }
    let (reports, mut reported) = mpsc::channel(1);
    let page = start_page(reports).await;
    let yaml = format!(
        "{DEMO_AND_LEGACY}routes:\n  - grpc: {{ service: demo.v1.Stream, upstream: demo }}\n  - grpc: {{ service: demo.v1.Library, upstream: demo }}\n  - http: {{ prefix: /page/, upstream: legacy }}\n"
    )
    .replace("{legacy}", &page.to_string());
    let harness = Harness::with_config(&yaml).await;
    let profile = tempfile::tempdir().unwrap();
    let url = harness.url("/page/index.html");
    let user_data = format!("--user-data-dir={}", profile.path().display());
    let chromium = tokio::task::spawn_blocking(move || chromium::dump_dom(&url, &user_data));
    let report = tokio::time::timeout(Duration::from_secs(30), reported.recv()).await;
    let report = report.ok().flatten();
    let chromium = chromium.await.unwrap();
    let dom = String::from_utf8_lossy(&chromium);
    assert_eq!(
        report.as_deref(),
        Some(
            r#"["sse:0,1,2","ws:5,6:1000","fetch:0,1","grpc-web:Fiction:grpc-status: 0","grpc-web-text:0,1,2:grpc-status: 0"]"#
        ),
        "the page did not see the streams: {dom}"
    );
    assert!(dom.contains(r#"<pre id="out">["sse:0,1,2","ws:5,6:1000","fetch:0,1","grpc-web:Fiction:grpc-status: 0","grpc-web-text:0,1,2:grpc-status: 0"]</pre>"#), "{dom}");
}
