//! The floor forwarder: the least an HTTP→gRPC forwarder can do for one
//! method, `GET /v1/items/{id}?view=…` → `bench.v1.Bench/GetItem`, with the
//! path, the query and the JSON written by hand for that one shape. No
//! routing table, no descriptors, no policies: what hyper + tonic cost on
//! their own. The benchmark (examples/bench) measures protogate against it.
//!
//! ```text
//! cargo run --release --example floor -- 127.0.0.1:8090 http://127.0.0.1:50051
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use protogate::proto::bench::v1::bench_client::BenchClient;
use protogate::proto::bench::v1::{GetItemRequest, Item};
use tokio::net::TcpListener;
use tonic::transport::Channel;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(backend)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: floor <listen address> <backend URL>");
    };
    let listen: SocketAddr = listen.parse()?;
    let client = BenchClient::new(Channel::from_shared(backend)?.connect().await?);
    let listener = TcpListener::bind(listen).await?;
    println!("floor listening on {}", listener.local_addr()?);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors (`ulimit -n`) and the like: wait, as protogate does.
                eprintln!("floor: accept failed: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        let service = service_fn(move |request| forward(client.clone(), request));
        tokio::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
        );
    }
}

/// One request: hand-parsed, called, hand-rendered.
async fn forward<B>(
    mut client: BenchClient<Channel>,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(call) = parse(request.uri().path(), request.uri().query()) else {
        return Ok(reply(StatusCode::NOT_FOUND, Bytes::from_static(b"{\"code\":5}")));
    };
    Ok(match client.get_item(call).await {
        Ok(item) => reply(StatusCode::OK, Bytes::from(render(&item.into_inner()))),
        Err(status) => {
            reply(StatusCode::BAD_GATEWAY, Bytes::from(format!("{{\"code\":{}}}", status.code() as i32)))
        }
    })
}

/// `/v1/items/{id}` with an optional `view=` query parameter.
fn parse(path: &str, query: Option<&str>) -> Option<GetItemRequest> {
    let id = path.strip_prefix("/v1/items/")?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    let view = query
        .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("view=")))
        .unwrap_or_default();
    Some(GetItemRequest { id: id.to_owned(), view: view.to_owned() })
}

/// The proto3 JSON of an `Item`, written field by field.
fn render(item: &Item) -> Vec<u8> {
    let mut json = Vec::with_capacity(160);
    json.extend_from_slice(b"{\"id\":");
    push_string(&mut json, &item.id);
    json.extend_from_slice(b",\"name\":");
    push_string(&mut json, &item.name);
    json.extend_from_slice(format!(",\"revision\":\"{}\",\"tags\":[", item.revision).as_bytes());
    for (i, tag) in item.tags.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        push_string(&mut json, tag);
    }
    json.extend_from_slice(b"],\"labels\":{");
    for (i, (key, value)) in item.labels.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        push_string(&mut json, key);
        json.push(b':');
        push_string(&mut json, value);
    }
    json.extend_from_slice(b"}}");
    json
}

/// A JSON string literal, escaped by serde_json straight into `json`.
fn push_string(json: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *json, text);
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}
