//! The backends every scenario ends at, served from the bench process
//! itself: the `bench.v1.Bench` gRPC service (its reads, writes and
//! streams) and a plain HTTP server for the pass-through rows. Their CPU is not the gateway's, so sharing a process
//! with the load generator is fine.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use protogate::proto::bench::v1::bench_server::{Bench, BenchServer};
use protogate::proto::bench::v1::{GetItemRequest, Item, ListItemsRequest, Record};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

/// What the HTTP backend answers to every request: about the size of an
/// `Item` rendered as JSON.
pub const HTTP_REPLY: &str = r#"{"id":"item-1","name":"item item-1","revision":"42","tags":["red","green","blue"],"labels":{"team":"storage","tier":"gold"}}"#;

/// The small read, the ~1 KB write and the streams of small Items.
#[derive(Debug, Default)]
struct BenchService;

/// A reply stream of the service.
type Items = Pin<Box<dyn Stream<Item = Result<Item, Status>> + Send>>;

#[tonic::async_trait]
impl Bench for BenchService {
    type ListItemsStream = Items;
    type WatchItemsStream = Items;

    async fn get_item(&self, request: Request<GetItemRequest>) -> Result<Response<Item>, Status> {
        let request = request.into_inner();
        if request.id.is_empty() {
            return Err(Status::invalid_argument("id is empty"));
        }
        Ok(Response::new(Item {
            name: format!("item {}", request.id),
            id: request.id,
            revision: 42,
            tags: vec!["red".into(), "green".into(), "blue".into()],
            labels: [("team".into(), "storage".into()), ("tier".into(), "gold".into())].into(),
        }))
    }

    async fn create_record(&self, request: Request<Record>) -> Result<Response<Record>, Status> {
        let mut record = request.into_inner();
        record.version += 1;
        Ok(Response::new(record))
    }

    async fn list_items(&self, request: Request<ListItemsRequest>) -> Result<Response<Items>, Status> {
        let ListItemsRequest { count, hold } = request.into_inner();
        let items = streamed_items(count);
        Ok(Response::new(if hold { items.chain(stream::pending()).boxed() } else { items.boxed() }))
    }

    async fn watch_items(
        &self,
        request: Request<Streaming<ListItemsRequest>>,
    ) -> Result<Response<Items>, Status> {
        let replies = request.into_inner().flat_map(|message| match message {
            Ok(message) => streamed_items(message.count).left_stream(),
            Err(status) => stream::once(async move { Err(status) }).right_stream(),
        });
        Ok(Response::new(replies.boxed()))
    }
}

/// `count` small Items, as fast as the reader takes them.
fn streamed_items(count: u32) -> impl Stream<Item = Result<Item, Status>> + Send {
    stream::iter(0..count).map(|n| {
        Ok(Item { id: format!("item-{n}"), name: "streamed".into(), revision: n.into(), ..Item::default() })
    })
}

/// Serves `bench.v1.Bench` on an ephemeral loopback port.
pub async fn start_grpc() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(BenchServer::new(BenchService))
            .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true))),
    );
    Ok(addr)
}

/// Serves [`HTTP_REPLY`] over HTTP/1.1 keep-alive on an ephemeral loopback port.
pub async fn start_http() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let service = service_fn(|_request| async {
                Ok::<_, Infallible>(
                    hyper::Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(HTTP_REPLY.as_bytes())))
                        .unwrap_or_default(),
                )
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    Ok(addr)
}
