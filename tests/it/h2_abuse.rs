//! HTTP/2 abuse (issue 12, "Limits with safe defaults"), with frames
//! written by hand on a raw TCP connection to the real listener: a rapid
//! reset flood (HEADERS then RST_STREAM, thousands of times), a
//! CONTINUATION flood (a header block that never ends), a SETTINGS flood
//! and a PING flood. Each is ended by the gateway (h2's protections, with
//! the limits the server sets explicitly: src/server/connection.rs) within
//! a bounded time or survived with bounded work, and other clients are
//! served all along.

use tokio::{
    io::AsyncWriteExt,
    net::{TcpStream, tcp::OwnedWriteHalf},
};

use crate::support::{
    gateway::Harness,
    h2_frames::{
        ACK, CANCEL, CONTINUATION, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, Ending, HEADERS, PING,
        PREFACE, SETTINGS, frame, get_block, literal, read_frame, rst_stream, until_ended,
    },
    poll::POLL_DEADLINE,
};

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
limits: { max_header_bytes: 16KiB }
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
"#;

/// HPACK's indexed `:status: 200`, the first byte of hyper's 200 response head.
const STATUS_200: u8 = 0x88;

/// A raw HTTP/2 connection to the gateway, past its preface and SETTINGS.
async fn open(harness: &Harness) -> (tokio::net::tcp::OwnedReadHalf, OwnedWriteHalf) {
    let stream = TcpStream::connect(harness.addr()).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (reader, mut writer) = stream.into_split();
    writer.write_all(PREFACE).await.unwrap();
    writer.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    (reader, writer)
}

/// Writes `make(i)` for i = 0, 1, ... until `limit` or a write fails or
/// stalls (the gateway closed, or stopped reading); how many were written,
/// and the writer, still open (a client that closed its side would be a
/// client gone).
fn flood(
    mut writer: OwnedWriteHalf,
    limit: usize,
    make: impl Fn(usize) -> Vec<u8> + Send + 'static,
) -> tokio::task::JoinHandle<(usize, OwnedWriteHalf)> {
    tokio::spawn(async move {
        for i in 0..limit {
            let bytes = make(i);
            match tokio::time::timeout(POLL_DEADLINE, writer.write_all(&bytes)).await {
                Ok(Ok(())) => {}
                _ => return (i, writer),
            }
        }
        (limit, writer)
    })
}

/// Another client is served while (and after) one connection misbehaves.
async fn assert_others_served(harness: &Harness) {
    let (status, body) = harness.get_json("/v1/echo/other").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_rapid_reset_flood_gets_a_goaway_and_reaches_few_backend_calls() {
    let harness = Harness::with_config(CONFIG).await;
    let calls = harness.backend().calls();
    let (mut reader, writer) = open(&harness).await;
    let authority = harness.addr().to_string();
    const PAIRS: usize = 10_000;
    // 100 pairs a write: HEADERS (a whole GET) and its RST_STREAM(CANCEL).
    let writing = flood(writer, PAIRS / 100, move |batch| {
        let mut bytes = Vec::new();
        for pair in 0..100 {
            let stream = u32::try_from(2 * (batch * 100 + pair) + 1).unwrap();
            bytes.extend(frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                stream,
                &get_block("/v1/echo/1", &authority),
            ));
            bytes.extend(rst_stream(stream, CANCEL));
        }
        bytes
    });
    let ending = until_ended(&mut reader, POLL_DEADLINE, |_| {}).await.unwrap();
    assert_eq!(ending, Ending::GoAway(ENHANCE_YOUR_CALM));
    writing.await.unwrap();
    let reached = harness.backend().calls() - calls;
    assert!(reached <= 200, "{reached} of the reset calls reached the backend");
    assert_others_served(&harness).await;
}

#[tokio::test]
async fn a_continuation_flood_is_ended_once_past_the_header_list_limit() {
    let harness = Harness::with_config(CONFIG).await;
    let (mut reader, writer) = open(&harness).await;
    let authority = harness.addr().to_string();
    // 16 MiB of header fields after the first block, 16 KiB a frame; the
    // list limit is 16 KiB.
    const FRAMES: usize = 1024;
    let writing = flood(writer, FRAMES + 1, move |index| {
        if index == 0 {
            return frame(HEADERS, END_STREAM, 1, &get_block("/v1/echo/1", &authority));
        }
        let mut block = Vec::new();
        while block.len() < 16 * 1024 - 200 {
            let name = format!("x-flood-{}", block.len());
            literal(&mut block, &name, &[b'v'; 100]);
        }
        frame(CONTINUATION, 0, 1, &block)
    });
    let ending = until_ended(&mut reader, POLL_DEADLINE, |_| {}).await.unwrap();
    assert!(matches!(ending, Ending::GoAway(_) | Ending::Closed), "{ending:?}");
    let (written, _writer) = writing.await.unwrap();
    assert!(written < FRAMES, "the gateway read all {FRAMES} CONTINUATION frames");
    assert_others_served(&harness).await;
}

/// Floods one connection with 100 000 copies of `one` (each asks for an
/// answer), then sends `GET /v1/echo/1` on it, reading all along: the
/// gateway ends the connection, or it survives, having answered each
/// frame as it read it (its writes apply back-pressure: it reads no faster
/// than it is read, so nothing piles up) and serving the GET after; other
/// clients are served during the flood and after.
async fn assert_flood_ended_or_survived(one: Vec<u8>, answer_kind: u8) {
    let harness = Harness::with_config(CONFIG).await;
    let (mut reader, writer) = open(&harness).await;
    let get =
        frame(HEADERS, END_HEADERS | END_STREAM, 1, &get_block("/v1/echo/1", &harness.addr().to_string()));
    let writing = flood(writer, 1001, move |batch| if batch < 1000 { one.repeat(100) } else { get.clone() });
    assert_others_served(&harness).await;
    let mut answers = 0usize;
    let ending = loop {
        match read_frame(&mut reader, POLL_DEADLINE).await.unwrap() {
            None => break Some(Ending::Closed),
            Some(frame) if frame.goaway_code().is_some() => break frame.goaway_code().map(Ending::GoAway),
            Some(frame) if frame.kind == HEADERS && frame.stream == 1 => {
                assert_eq!(
                    frame.payload.first(),
                    Some(&STATUS_200),
                    "the GET after the flood is answered 200"
                );
                break None;
            }
            Some(frame) => answers += usize::from(frame.kind == answer_kind && frame.flags & ACK != 0),
        }
    };
    let (written, _writer) = writing.await.unwrap();
    if ending.is_none() {
        assert_eq!(written, 1001, "every frame was read");
        assert!(answers >= 100_000, "{answers} answers to 100 000 frames");
    }
    assert_others_served(&harness).await;
}

#[tokio::test]
async fn a_settings_flood_is_ended_or_survived_and_others_are_served() {
    assert_flood_ended_or_survived(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]), SETTINGS).await;
}

#[tokio::test]
async fn a_ping_flood_is_ended_or_survived_and_others_are_served() {
    assert_flood_ended_or_survived(frame(PING, 0, 0, &[7; 8]), PING).await;
}
