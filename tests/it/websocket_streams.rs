//! Client and bidirectional streams over WebSocket (tokio-tungstenite
//! against the gateway and the demo backend's Stream service): text frames
//! as messages, `{"result": ...}` replies, an empty frame half-closing the
//! request stream, close codes from the call's end (1000, 4000 + the gRPC
//! code), limits, and the shutdown drain closing a session with 1001.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::frame::coding::CloseCode},
};

use crate::support::gateway::{DEMO_CONFIG, Harness};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn config(stream: &str) -> String {
    format!("{DEMO_CONFIG}  - grpc: {{ service: demo.v1.Stream, upstream: demo, stream: {{ {stream} }} }}\n")
}

async fn connect(harness: &Harness, path: &str) -> Socket {
    let url = format!("ws://{}{path}", harness.addr());
    let (socket, response) = connect_async(url).await.unwrap();
    assert_eq!(response.status(), 101);
    socket
}

/// The next text frame as JSON, or the close code (10 s at most).
async fn next(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("no frame in 10s");
        match frame {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(Some(close)))) => return Err(u16::from(close.code)),
            Some(Ok(Message::Close(None))) | None => return Err(1005),
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("the socket failed: {error}"),
        }
    }
}

async fn send(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text.to_owned())).await.unwrap();
}

/// A gateway on `yaml` and a Chat socket that has echoed `index` once.
async fn chat_that_echoed(yaml: &str, index: i32) -> (Harness, Socket) {
    let harness = Harness::with_config(yaml).await;
    let mut socket = connect(&harness, "/v1/stream/chat").await;
    send(&mut socket, &format!("{{\"index\": {index}}}")).await;
    assert_eq!(next(&mut socket).await.unwrap()["result"]["index"], index);
    (harness, socket)
}

#[tokio::test]
async fn a_bidirectional_stream_echoes_each_frame_and_closes_with_1000() {
    let harness = Harness::with_config(&config("")).await;
    // The binding is a POST; the upgrade is a GET on its path.
    let mut socket = connect(&harness, "/v1/stream/chat").await;
    for index in 0..3 {
        send(&mut socket, &format!("{{\"index\": {index}}}")).await;
        let reply = next(&mut socket).await.unwrap();
        assert_eq!(reply["result"]["index"], index, "{reply}");
    }
    // An empty frame half-closes the request stream; the call then ends.
    send(&mut socket, "").await;
    assert_eq!(next(&mut socket).await, Err(1000));
    assert_eq!(harness.backend().stream_probe().received(), 3);
}

#[tokio::test]
async fn a_client_stream_answers_its_one_reply_after_the_half_close() {
    let harness = Harness::with_config(&config("")).await;
    let mut socket = connect(&harness, "/v1/stream/sum").await;
    for index in [1, 2, 3] {
        send(&mut socket, &format!("{{\"index\": {index}}}")).await;
    }
    let probe = harness.backend().stream_probe();
    for _ in 0..1000 {
        if probe.received() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(probe.received(), 3, "the messages did not reach the backend before the half-close");
    send(&mut socket, "").await;
    assert_eq!(next(&mut socket).await.unwrap()["result"]["index"], 6);
    assert_eq!(next(&mut socket).await, Err(1000));
}

#[tokio::test]
async fn a_bad_frame_ends_the_session_with_its_error_and_4000_plus_its_code() {
    let (harness, mut socket) = chat_that_echoed(&config("max_messages: 2"), 1).await;
    send(&mut socket, "{\"index\": \"x\"}").await;
    let error = next(&mut socket).await.unwrap();
    assert_eq!(error["error"]["code"], 3, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().starts_with("request message 1: "), "{error}");
    assert_eq!(next(&mut socket).await, Err(4003));
    // A limit: the third message of a stream allowed two.
    let mut socket = connect(&harness, "/v1/stream/chat").await;
    for _ in 0..2 {
        send(&mut socket, "{}").await;
        next(&mut socket).await.unwrap();
    }
    send(&mut socket, "{}").await;
    let error = next(&mut socket).await.unwrap();
    assert_eq!(
        error,
        json!({"error": {"code": 8, "message": "the request stream has more than 2 messages (grpc.stream.max_messages)", "details": []}})
    );
    assert_eq!(next(&mut socket).await, Err(4008));
}

#[tokio::test]
async fn a_websocket_on_a_method_that_streams_no_requests_is_not_a_stream() {
    let harness = Harness::with_config(&config("")).await;
    let url = format!("ws://{}/v1/stream/count/2", harness.addr());
    let error = connect_async(url).await.unwrap_err();
    assert!(error.to_string().contains("200"), "{error}");
}

#[tokio::test]
async fn the_shutdown_drain_closes_an_open_session_with_1001() {
    let (harness, mut socket) = chat_that_echoed(&config(""), 7).await;
    let reader = tokio::spawn(async move {
        let end = next(&mut socket).await;
        let _ = socket.close(None).await;
        end
    });
    // Within the drain: nothing had to be closed by force.
    let closed = harness.shutdown(Duration::from_secs(10)).await;
    assert_eq!(reader.await.unwrap(), Err(u16::from(CloseCode::Away)));
    assert_eq!(closed, 0);
}
