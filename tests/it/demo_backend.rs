//! The demo backend over real gRPC, through the generated tonic clients, and
//! the raw gRPC test server's header/message/trailer split.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use protogate::demo::DemoBackend;
use protogate::proto::demo::v1::echo_client::EchoClient;
use protogate::proto::demo::v1::library_client::LibraryClient;
use protogate::proto::demo::v1::{
    Book, FailRequest, FieldViolation, GetBookRequest, Shelf, SleepRequest, UpdateBookRequest,
};
use protogate::rpc_status;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{poll::eventually, raw_grpc::start_raw_grpc};

async fn backend() -> (DemoBackend, Channel) {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let channel =
        Channel::from_shared(format!("http://{}", backend.addr())).unwrap().connect().await.unwrap();
    (backend, channel)
}

#[tokio::test]
async fn get_book_and_cover() {
    let (_backend, channel) = backend().await;
    let mut library = LibraryClient::new(channel);

    let book = library.get_book(GetBookRequest { shelf: 1, book: 2 }).await.unwrap().into_inner();
    assert_eq!((book.id, book.title.as_str()), (2, "Pride & Prejudice"));
    assert!(book.published.is_some());

    let cover = library.get_book_cover(GetBookRequest { shelf: 1, book: 2 }).await.unwrap().into_inner();
    assert_eq!(cover.content_type, "image/svg+xml");
    let svg = String::from_utf8(cover.data).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Pride &amp; Prejudice"), "{svg}");

    let status = library.get_book(GetBookRequest { shelf: 1, book: 99 }).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "book 99 not found on shelf 1");
}

#[tokio::test]
async fn update_book_applies_the_mask() {
    let (_backend, channel) = backend().await;
    let mut library = LibraryClient::new(channel);
    let patch = Book { id: 1, pages: 999, title: String::new(), ..Book::default() };

    let mask = |paths: &[&str]| {
        Some(prost_types::FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() })
    };
    let request = UpdateBookRequest { shelf: 1, book: Some(patch.clone()), update_mask: mask(&["pages"]) };
    let updated = library.update_book(request).await.unwrap().into_inner();
    assert_eq!((updated.pages, updated.title.as_str()), (999, "The Left Hand of Darkness"));
    let stored = library.get_book(GetBookRequest { shelf: 1, book: 1 }).await.unwrap().into_inner();
    assert_eq!(stored, updated);

    let request = UpdateBookRequest { shelf: 1, book: Some(patch.clone()), update_mask: mask(&["isbn"]) };
    assert_eq!(library.update_book(request).await.unwrap_err().code(), Code::InvalidArgument);
    // An empty mask replaces every field, and an empty title is refused.
    let request = UpdateBookRequest { shelf: 1, book: Some(patch), update_mask: None };
    assert_eq!(library.update_book(request).await.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn fail_carries_details_and_metadata() {
    let (_backend, channel) = backend().await;
    let request = FailRequest {
        code: Code::FailedPrecondition as i32,
        message: "no can do".into(),
        with_details: true,
        metadata: [("x-meta".to_string(), "m".to_string())].into(),
        trailers: [
            ("x-trailer".to_string(), "t".to_string()),
            ("bad key".to_string(), "skipped".to_string()),
        ]
        .into(),
    };
    let status = EchoClient::new(channel).fail(request).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::FailedPrecondition, "no can do"));
    assert_eq!(status.metadata().get("x-meta").unwrap(), "m");
    assert_eq!(status.metadata().get("x-trailer").unwrap(), "t");

    let details = rpc_status::RpcStatus::decode(status.details()).unwrap();
    assert_eq!((details.code, details.message.as_str()), (Code::FailedPrecondition as i32, "no can do"));
    let types: Vec<_> = details.details.iter().map(|any| any.type_url.as_str()).collect();
    assert_eq!(
        types,
        ["type.googleapis.com/demo.v1.FieldViolation", "type.googleapis.com/unknown.v1.Mystery"]
    );
    let violation = FieldViolation::decode(details.details[0].value.as_slice()).unwrap();
    assert_eq!((violation.field.as_str(), violation.description.as_str()), ("name", "must not be empty"));
}

#[tokio::test]
async fn health_reports_serving() {
    let (backend, channel) = backend().await;
    let mut health = HealthClient::new(channel);
    for service in ["", "demo.v1.Library", "demo.v1.Echo"] {
        let reply = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving, "{service:?}");
    }

    backend
        .health_reporter()
        .set_service_status("demo.v1.Echo", tonic_health::ServingStatus::NotServing)
        .await;
    let reply =
        health.check(HealthCheckRequest { service: "demo.v1.Echo".into() }).await.unwrap().into_inner();
    assert_eq!(reply.status(), ServingStatus::NotServing);
}

#[tokio::test]
async fn dropping_the_backend_closes_its_port_and_drains() {
    let (backend, channel) = backend().await;
    let addr = backend.addr();
    // A call in flight when the backend is dropped: it must not keep the
    // port open, and it still completes (graceful shutdown).
    let mut echo = EchoClient::new(channel);
    let in_flight = tokio::spawn(async move { echo.sleep(SleepRequest { millis: 300 }).await });
    eventually("the call to reach the backend", async || backend.calls() == 1).await;
    drop(backend);

    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "{addr} still accepts connections 2 s after the backend was dropped");
    in_flight.await.unwrap().unwrap();
}

#[tokio::test]
async fn raw_grpc_sends_headers_message_and_trailers() {
    let message = Shelf { id: 7, theme: "raw".into() }.encode_to_vec();
    let addr = start_raw_grpc(Some(Bytes::from(message.clone())), "0").await;
    let (status, headers, body, trailers) = raw_call(addr).await;

    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/grpc");
    assert_eq!(headers["x-raw-header"], "from-headers");
    assert!(!headers.contains_key("grpc-status") && !headers.contains_key("x-raw-trailer"));

    assert_eq!(body[0], 0);
    assert_eq!(u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize, message.len());
    assert_eq!(Shelf::decode(&body[5..]).unwrap(), Shelf { id: 7, theme: "raw".into() });

    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-raw-trailer"], "from-trailers");
}

/// One gRPC call over a bare hyper HTTP/2 client, which keeps headers and
/// trailers apart (a tonic client merges them into one metadata map).
async fn raw_call(addr: SocketAddr) -> (u16, http::HeaderMap, Bytes, http::HeaderMap) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let request = http::Request::post(format!("http://{addr}/demo.v1.Library/GetShelf"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap();
    (parts.status.as_u16(), parts.headers, collected.to_bytes(), trailers)
}
