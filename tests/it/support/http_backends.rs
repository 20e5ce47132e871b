//! Real HTTP backends for the pass-through tests, and a tiny gateway that
//! serves one `ProxyTarget`, all on 127.0.0.1:0.
//!
//! The echo backend (HTTP/1.1 and HTTP/2 with prior knowledge, optionally
//! over TLS) answers:
//! - `GET /download?bytes=N`: N zero bytes, streamed in 64 KiB chunks;
//! - `POST /upload`: `{"received": N}` once the body has been counted;
//! - `/slow`: after two seconds;
//! - anything else: what it received as JSON (method, path, query, version,
//!   headers), with `x-internal-token`, `x-backend` and a hop-by-hop
//!   `x-hop-response` named by `Connection` in the response.
//!
//! Also: a test PKI made with rcgen (CA, server and client certificates),
//! and a TLS redis-server that presents its server certificate.

use std::{collections::BTreeMap, convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use crate::support::redis::RedisServer;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, Uri};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use protogate::proxy::{ClientIdentity, TlsSettings};
use protogate::{
    error::GatewayError,
    observe::{Connection, RequestContext, TracingObserver},
    proxy::ProxyTarget,
    router::request_host,
    upstream::{Upstream, UpstreamProtocol, UpstreamSettings},
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::net::TcpListener;
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self, RootCertStore,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
        server::WebPkiClientVerifier,
    },
};

/// The size of a streamed chunk.
pub const CHUNK: usize = 64 * 1024;
static ZEROS: [u8; CHUNK] = [0; CHUNK];

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// `count` chunks of zeros as a streamed body (no allocation per chunk).
pub fn zeros(count: usize) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>>> {
    StreamBody::new(futures_util::stream::iter(
        (0..count).map(|_| Ok(Frame::data(Bytes::from_static(&ZEROS)))),
    ))
}

/// Starts the echo backend in cleartext (HTTP/1.1 and h2c).
pub async fn start_echo() -> SocketAddr {
    start_echo_with(None).await
}

/// Starts the echo backend, over TLS when `tls` is given.
pub async fn start_echo_with(tls: Option<TlsAcceptor>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(|request| async move { Ok::<_, Infallible>(echo(request).await) });
                let builder = auto::Builder::new(TokioExecutor::new());
                let _ = match tls {
                    None => builder.serve_connection(TokioIo::new(stream), service).await,
                    Some(tls) => {
                        let Ok(stream) = tls.accept(stream).await else { return };
                        builder.serve_connection(TokioIo::new(stream), service).await
                    }
                };
            });
        }
    });
    addr
}

async fn echo(request: Request<Incoming>) -> Response<Body> {
    let query = request.uri().query().unwrap_or("").to_owned();
    match request.uri().path() {
        "/download" => {
            let bytes: usize = query.strip_prefix("bytes=").and_then(|n| n.parse().ok()).unwrap_or(0);
            let mut response = Response::new(zeros(bytes / CHUNK).boxed_unsync());
            response.headers_mut().insert("content-length", (bytes / CHUNK * CHUNK).into());
            response
        }
        "/upload" => {
            let mut body = request.into_body();
            let mut received = 0usize;
            while let Some(frame) = body.frame().await {
                received += frame.unwrap().data_ref().map_or(0, Bytes::len);
            }
            json(serde_json::json!({ "received": received }))
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            json(serde_json::json!({}))
        }
        _ => {
            let mut headers = BTreeMap::<String, Vec<String>>::new();
            for (name, value) in request.headers() {
                headers.entry(name.to_string()).or_default().push(value.to_str().unwrap_or("?").to_owned());
            }
            let mut response = json(serde_json::json!({
                "method": request.method().as_str(),
                "path": request.uri().path(),
                "query": query,
                "version": format!("{:?}", request.version()),
                "headers": headers,
            }));
            let headers = response.headers_mut();
            headers.insert("x-internal-token", "secret".parse().unwrap());
            headers.insert("x-backend", "echo".parse().unwrap());
            if request.version() == http::Version::HTTP_11 {
                headers.insert("connection", "x-hop-response".parse().unwrap());
                headers.insert("x-hop-response", "1".parse().unwrap());
            }
            response
        }
    }
}

fn json(value: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())).boxed_unsync());
    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
    response
}

/// Starts a WebSocket backend that echoes every message back.
pub async fn start_websocket_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_close() || socket.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// An upstream of one endpoint.
pub fn upstream(name: &str, protocol: UpstreamProtocol, endpoint: &str) -> Arc<Upstream> {
    let settings = UpstreamSettings {
        protocol,
        endpoints: vec![endpoint.parse::<Uri>().unwrap()],
        connect_timeout: Duration::from_secs(1),
        max_response_bytes: 4 << 20,
        ..Default::default()
    };
    Arc::new(Upstream::new(name, &settings).unwrap())
}

/// Serves `target` on 127.0.0.1:0 (HTTP/1.1 with upgrades, and h2c), its
/// errors rendered by the error module: as gRPC statuses for gRPC targets.
pub async fn start_proxy(target: ProxyTarget) -> SocketAddr {
    let target = Arc::new(target);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let target = target.clone();
            let service = service_fn(move |request: Request<Incoming>| {
                let target = target.clone();
                async move {
                    let host =
                        request_host(request.headers(), request.uri()).and_then(|h| h.to_header_value());
                    let (head, body) = request.into_parts();
                    let observer = Arc::new(TracingObserver);
                    let context =
                        Arc::new(RequestContext::new(Connection::plain(peer, None), &head, observer));
                    let request = Request::from_parts(head, body);
                    let response = match target.call(request, &context, host).await {
                        Ok(response) => response,
                        Err(error) if target.settings().grpc => {
                            GatewayError::from(error).into_grpc_response()
                        }
                        Err(error) => GatewayError::from(error).into_response(),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// The resident memory of this process, in bytes.
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// A raw HTTP/1.1 GET (reqwest would normalise the path).
pub async fn raw_get(stream: tokio::net::TcpStream, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = stream;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// A TLS redis-server with a fresh test PKI written to `dir`, and the CA
/// file that verifies it; `None` when redis-server is missing outside CI.
pub fn start_tls_redis(dir: &std::path::Path) -> Option<(RedisServer, std::path::PathBuf)> {
    let (_, tls) = test_pki(dir, "127.0.0.1");
    let ca = tls.ca_file.expect("the test PKI writes its CA");
    let server = RedisServer::start_tls(&dir.join("server.pem"), &dir.join("server.key"), &ca)?;
    Some((server, ca))
}

/// A CA, a server certificate for `server_name` (a host name or an IP
/// address) and a client certificate, as PEM files in `dir` (ca.pem,
/// server.pem and server.key, client.pem and client.key); the server's TLS
/// acceptor requires a client certificate.
pub fn test_pki(dir: &std::path::Path, server_name: &str) -> (TlsAcceptor, TlsSettings) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names).unwrap().signed_by(&key, &ca).unwrap();
        (cert, key)
    };
    let (server_cert, server_key) = leaf(vec![server_name.to_owned()]);
    let (client_cert, client_key) = leaf(vec!["client.test".to_owned()]);
    let write = |file: &str, pem: String| {
        let path = dir.join(file);
        std::fs::write(&path, pem).unwrap();
        path
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![CertificateDer::from(server_cert.der().to_vec())], key)
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let tls = TlsSettings {
        ca_file: Some(write("ca.pem", ca.pem())),
        identity: Some(ClientIdentity {
            cert_file: write("client.pem", client_cert.pem()),
            key_file: write("client.key", client_key.serialize_pem()),
        }),
        server_name: None,
    };
    write("server.pem", server_cert.pem());
    write("server.key", server_key.serialize_pem());
    (TlsAcceptor::from(Arc::new(server)), tls)
}
