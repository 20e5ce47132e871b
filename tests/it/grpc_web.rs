//! gRPC-Web from browsers on the main port: binary and text mode, unary
//! and server streaming, over HTTP/1.1 and HTTP/2, translated to native
//! gRPC for the demo backend; the status in the trailer frame, policies
//! refusing in gRPC-Web, CORS for a page's origin.

use base64::{Engine, engine::general_purpose::STANDARD};
use prost::Message;
use protogate::proto::demo::v1::{CountReply, CountRequest, FailStreamRequest, GetShelfRequest, Shelf};

use percent_encoding::percent_decode_str;

use crate::support::{
    gateway::{DEMO_CONFIG, Harness},
    raw_http::{self, RawConnection},
};

fn config() -> String {
    format!(
        "{}policies:\n  browsers: {{ cors: {{ allow_origins: [\"https://app.example.com\"], allow_methods: [POST], \
         allow_headers: [content-type, x-grpc-web, x-user-agent] }} }}\n  partners: {{ api_key: {{ keys: \
         [{{ consumer: acme, sha256: {} }}] }} }}\ndefault_policies: [browsers]\n{}",
        DEMO_CONFIG.split("routes:").next().unwrap(),
        protogate::policy::auth::hash_key("acme-secret-key"),
        "routes:\n  - grpc: { service: demo.v1.Library, upstream: demo }\n\
         \x20 - grpc: { service: demo.v1.Stream, upstream: demo, methods: [Count, FailAfterTwo] }\n\
         \x20 - grpc: { service: demo.v1.Echo, upstream: demo }\n    policies: [partners]\n"
    )
}

/// One gRPC-Web frame: its flag byte and payload.
type WebFrame = (u8, Vec<u8>);

/// `message` as one gRPC frame.
fn framed(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut frame = vec![0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame
}

/// The frames of a gRPC-Web body.
fn frames(mut body: &[u8]) -> Vec<WebFrame> {
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        frames.push((body[0], body[5..5 + length].to_vec()));
        body = &body[5 + length..];
    }
    assert!(body.is_empty(), "a partial frame is left: {body:?}");
    frames
}

/// The trailer frame's lines, as `name: value`.
fn trailers(frames: &[WebFrame]) -> Vec<String> {
    let (flag, lines) = frames.last().expect("a trailer frame");
    assert_eq!(*flag, 0x80, "the last frame is not the trailer frame");
    String::from_utf8(lines.clone())
        .unwrap()
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[derive(Clone, Copy)]
enum Mode {
    Binary,
    Text,
}

/// Sends a gRPC-Web call of `message` to `path`; the response's status,
/// headers and frames (text decoded).
async fn call(
    client: &reqwest::Client,
    url: String,
    mode: Mode,
    message: &impl Message,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<WebFrame>) {
    let (content_type, body) = match mode {
        Mode::Binary => ("application/grpc-web+proto", framed(message)),
        Mode::Text => ("application/grpc-web-text", STANDARD.encode(framed(message)).into_bytes()),
    };
    let mut request = client.post(url).header("content-type", content_type).header("x-grpc-web", "1");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.bytes().await.unwrap();
    let body = match mode {
        Mode::Binary => body.to_vec(),
        Mode::Text => STANDARD.decode(&body).unwrap_or_else(|e| panic!("not base64 ({e}): {body:?}")),
    };
    (status, headers, frames(&body))
}

fn clients() -> [(&'static str, reqwest::Client); 2] {
    [
        ("HTTP/1.1", reqwest::Client::builder().http1_only().build().unwrap()),
        ("HTTP/2", reqwest::Client::builder().http2_prior_knowledge().build().unwrap()),
    ]
}

#[tokio::test]
async fn unary_calls_work_in_binary_and_text_mode_over_both_versions() {
    let gateway = Harness::with_config(&config()).await;
    for (version, client) in clients() {
        for (mode, content_type) in
            [(Mode::Binary, "application/grpc-web+proto"), (Mode::Text, "application/grpc-web-text+proto")]
        {
            let url = gateway.url("/demo.v1.Library/GetShelf");
            let (status, headers, frames) =
                call(&client, url, mode, &GetShelfRequest { shelf: 1 }, &[]).await;
            assert_eq!(status, 200, "{version} {content_type}");
            assert_eq!(headers["content-type"], content_type, "{version}");
            assert_eq!(frames.len(), 2, "{version} {content_type}: {frames:?}");
            assert_eq!(frames[0].0, 0);
            assert_eq!(Shelf::decode(&frames[0].1[..]).unwrap().theme, "Fiction", "{version}");
            assert_eq!(trailers(&frames), ["grpc-status: 0"], "{version} {content_type}");
        }
    }
}

#[tokio::test]
async fn server_streams_send_each_message_then_the_trailer_frame() {
    let gateway = Harness::with_config(&config()).await;
    for (version, client) in clients() {
        for mode in [Mode::Binary, Mode::Text] {
            let url = gateway.url("/demo.v1.Stream/Count");
            let request = CountRequest { count: 3, ..Default::default() };
            let (status, _, frames) = call(&client, url, mode, &request, &[]).await;
            assert_eq!(status, 200, "{version}");
            let indexes: Vec<i32> = frames[..frames.len() - 1]
                .iter()
                .map(|(_, m)| CountReply::decode(&m[..]).unwrap().index)
                .collect();
            assert_eq!(indexes, [0, 1, 2], "{version}");
            assert_eq!(trailers(&frames), ["grpc-status: 0"], "{version}");
        }
    }
}

#[tokio::test]
async fn an_error_is_the_status_in_the_trailer_frame() {
    let gateway = Harness::with_config(&config()).await;
    let client = reqwest::Client::new();
    // After two messages.
    let url = gateway.url("/demo.v1.Stream/FailAfterTwo");
    let request = FailStreamRequest { code: 9, ..Default::default() };
    let (status, _, frames) = call(&client, url, Mode::Binary, &request, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(frames.len(), 3, "{frames:?}");
    let lines = trailers(&frames);
    assert!(lines.contains(&"grpc-status: 9".to_owned()), "{lines:?}");
    // A trailers-only answer (no such shelf): the trailer frame still comes.
    let url = gateway.url("/demo.v1.Library/GetShelf");
    let (_, headers, frames) = call(&client, url, Mode::Text, &GetShelfRequest { shelf: 999 }, &[]).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert!(trailers(&frames).contains(&"grpc-status: 5".to_owned()), "{frames:?}");
    assert_eq!(headers["grpc-status"], "5");
    // A method the route does not serve, and a service no route serves.
    for path in ["/demo.v1.Stream/DownloadChunks", "/demo.v1.Nothing/Here"] {
        let (status, _, frames) = call(&client, gateway.url(path), Mode::Binary, &request, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert!(trailers(&frames).contains(&"grpc-status: 12".to_owned()), "{path}: {frames:?}");
    }
}

#[tokio::test]
async fn a_policy_refusal_is_a_grpc_web_status_and_an_allowed_key_passes() {
    let gateway = Harness::with_config(&config()).await;
    let client = reqwest::Client::new();
    let served = gateway.backend().calls();
    let url = || gateway.url("/demo.v1.Echo/Echo");
    let kitchen = protogate::proto::demo::v1::Kitchen::default();
    let (status, headers, frames) = call(&client, url(), Mode::Binary, &kitchen, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/grpc-web+proto");
    assert!(trailers(&frames).contains(&"grpc-status: 16".to_owned()), "{frames:?}");
    assert_eq!(gateway.backend().calls(), served, "the backend saw a refused call");
    let key = [("x-api-key", "acme-secret-key")];
    let (_, _, frames) = call(&client, url(), Mode::Binary, &kitchen, &key).await;
    assert_eq!(trailers(&frames), ["grpc-status: 0"]);
}

/// The page origin's preflight of a gRPC-Web call (with `headers` besides)
/// is answered for it.
async fn assert_preflight_passes(gateway: &Harness, headers: &[(&str, &str)]) {
    let mut preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, gateway.url("/demo.v1.Library/GetShelf"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-grpc-web,x-user-agent");
    for (name, value) in headers {
        preflight = preflight.header(*name, *value);
    }
    let preflight = preflight.send().await.unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://app.example.com");
}

#[tokio::test]
async fn a_page_origin_gets_the_preflight_and_the_status_headers_exposed() {
    let gateway = Harness::with_config(&config()).await;
    let client = reqwest::Client::new();
    assert_preflight_passes(&gateway, &[]).await;
    let origin = [("origin", "https://app.example.com")];
    let url = gateway.url("/demo.v1.Library/GetShelf");
    let (_, headers, frames) = call(&client, url, Mode::Binary, &GetShelfRequest { shelf: 1 }, &origin).await;
    assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert_eq!(trailers(&frames), ["grpc-status: 0"]);
}

/// Builds a raw HTTP/1.1 request: method, path, extra headers, body.
type RequestBuilder = fn(&str, &str, &str, &[u8]) -> Vec<u8>;

/// A gRPC-Web body over `limits.max_body_bytes`, declared by
/// `Content-Length` or chunked, in binary and text mode: RESOURCE_EXHAUSTED
/// naming the limit, as a native gRPC call's message over its limit gets.
#[tokio::test]
async fn a_body_over_the_limit_is_resource_exhausted_declared_or_chunked() {
    let gateway = Harness::with_config(&format!("{}limits: {{ max_body_bytes: 64 }}\n", config())).await;
    let mut big = GetShelfRequest { shelf: 1 }.encode_to_vec();
    big.resize(100, 0);
    let frame = [&[0u8][..], &(big.len() as u32).to_be_bytes(), &big].concat();
    for (mode, content_type, body) in [
        (Mode::Binary, "application/grpc-web", frame.clone()),
        (Mode::Text, "application/grpc-web-text", STANDARD.encode(&frame).into_bytes()),
    ] {
        let headers = format!("content-type: {content_type}\r\nconnection: close\r\n");
        let framings: [(&str, RequestBuilder); 2] =
            [("declared", raw_http::with_length), ("chunked", raw_http::chunked)];
        for (framing, build) in framings {
            let request = build("POST", "/demo.v1.Library/GetShelf", &headers, &body);
            let mut connection = RawConnection::connect(gateway.addr()).await;
            let response = connection.exchange(&request).await.unwrap();
            let body = match mode {
                Mode::Binary => response.body.clone(),
                Mode::Text => STANDARD.decode(&response.body).unwrap(),
            };
            let lines = trailers(&frames(&body));
            let message = "grpc-message: the request body is larger than the limit of 64 bytes";
            assert_eq!(
                lines.iter().map(|line| percent_decode_str(line).decode_utf8_lossy()).collect::<Vec<_>>(),
                ["grpc-status: 8", message],
                "{content_type} {framing}"
            );
        }
    }
}

/// gRPC-Web, like gRPC, is POST only: any other method with a gRPC(-Web)
/// content type is refused with 405 and `Allow: POST` (the status in it
/// for gRPC clients) before the backend sees it; the preflight of a
/// gRPC-Web call is still answered.
#[tokio::test]
async fn a_grpc_web_call_not_posted_is_405_before_the_backend() {
    let gateway = Harness::with_config(&config()).await;
    let served = gateway.backend().calls();
    let body = framed(&GetShelfRequest { shelf: 1 });
    let content_types = ["application/grpc-web+proto", "application/grpc-web-text", "application/grpc"];
    for (version, client) in clients() {
        for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            for content_type in content_types {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let response = client
                    .request(method.clone(), gateway.url("/demo.v1.Library/GetShelf"))
                    .header("content-type", content_type)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let what = format!("{version} {method} {content_type}");
                assert_eq!(response.status(), 405, "{what}");
                assert_eq!(response.headers()["allow"], "POST", "{what}");
                assert_eq!(response.headers()["grpc-status"], "12", "{what}");
            }
        }
    }
    assert_eq!(gateway.backend().calls(), served, "the backend saw a call not posted");
    // Even one carrying a gRPC-Web content type.
    assert_preflight_passes(&gateway, &[("content-type", "application/grpc-web")]).await;
}
