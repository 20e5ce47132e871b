//! `limits.max_concurrent_streams`: the HTTP/2 limit of streams one client
//! connection may have open at once, advertised in the gateway's SETTINGS
//! (a client honouring it holds the next stream; hyper refuses one past it
//! with REFUSED_STREAM).

use std::time::Duration;

use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::support::{
    gateway::{DEMO_CONFIG, Harness},
    h2_frames::{
        ACK, DATA, END_HEADERS, END_STREAM, HEADERS, PREFACE, REFUSED_STREAM, RST_STREAM, ReadFrame,
        SETTINGS, frame, read_frame, request_block,
    },
};

/// The demo's config with the Stream service and at most 2 streams per connection.
fn two_streams_config() -> String {
    format!(
        "{DEMO_CONFIG}  - grpc: {{ service: demo.v1.Stream, upstream: demo }}\nlimits: {{ max_concurrent_streams: 2 }}\n"
    )
}

#[tokio::test]
async fn the_listener_advertises_the_configured_stream_limit() {
    let gateway = Harness::with_config(&two_streams_config()).await;
    let tcp = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
    let (mut client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let request = http::Request::get(gateway.url("/v1/shelves/1")).body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = tokio::select! {
        response = response => response.unwrap(),
        ended = &mut connection => panic!("the connection ended first: {ended:?}"),
    };
    assert_eq!(response.status(), 200);
    // The server's SETTINGS came before its answer.
    assert_eq!(connection.max_concurrent_send_streams(), 2);
}

/// How long the test waits for any one frame.
const FRAME_WAIT: Duration = Duration::from_secs(10);

/// The next frame that is not a connection-level SETTINGS, PING or WINDOW_UPDATE.
async fn next_stream_frame(reader: &mut tokio::net::tcp::OwnedReadHalf) -> ReadFrame {
    loop {
        let frame = read_frame(reader, FRAME_WAIT).await.unwrap().expect("the gateway closed the connection");
        if frame.stream != 0 {
            return frame;
        }
    }
}

#[tokio::test]
async fn a_stream_past_the_limit_is_refused_and_the_open_ones_finish() {
    let gateway = Harness::with_config(&two_streams_config()).await;
    let tcp = TcpStream::connect(gateway.addr()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (mut reader, mut writer) = tcp.into_split();
    writer.write_all(PREFACE).await.unwrap();
    writer.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    // The server's SETTINGS first; acknowledging them puts its limit in force.
    let settings = read_frame(&mut reader, FRAME_WAIT).await.unwrap().expect("the server's SETTINGS");
    assert_eq!(settings.kind, SETTINGS);
    writer.write_all(&frame(SETTINGS, ACK, 0, &[])).await.unwrap();

    // Two client streams to Sum, their request bodies left open: both streams stay open.
    let authority = gateway.addr().to_string();
    let sum =
        request_block("POST", "/v1/stream/sum", &authority, &[("content-type", "application/x-ndjson")]);
    for stream in [1, 3] {
        writer.write_all(&frame(HEADERS, END_HEADERS, stream, &sum)).await.unwrap();
    }
    // A third, a whole GET, is one too many.
    let count = request_block("GET", "/v1/stream/count/1", &authority, &[]);
    writer.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 5, &count)).await.unwrap();
    let refused = next_stream_frame(&mut reader).await;
    assert_eq!((refused.kind, refused.stream), (RST_STREAM, 5), "{refused:?}");
    assert_eq!(refused.payload, REFUSED_STREAM.to_be_bytes(), "{refused:?}");

    // The two open streams are still served: each message is summed, each answer ends its stream.
    for (stream, index) in [(1, 4), (3, 7)] {
        let line = format!("{{\"index\":{index}}}\n");
        writer.write_all(&frame(DATA, END_STREAM, stream, line.as_bytes())).await.unwrap();
    }
    let mut bodies = std::collections::BTreeMap::<u32, Vec<u8>>::new();
    let mut ended = std::collections::BTreeSet::new();
    while ended.len() < 2 {
        let frame = next_stream_frame(&mut reader).await;
        assert_ne!(frame.kind, RST_STREAM, "an open stream was reset: {frame:?}");
        if frame.kind == DATA {
            bodies.entry(frame.stream).or_default().extend_from_slice(&frame.payload);
        }
        if frame.flags & END_STREAM != 0 {
            ended.insert(frame.stream);
        }
    }
    let sum =
        |stream| serde_json::from_slice::<serde_json::Value>(&bodies[&stream]).unwrap()["index"].clone();
    assert_eq!((sum(1), sum(3)), (4.into(), 7.into()));
}
