//! The HTTP check: a GET on the configured path, over HTTP/1.1 cleartext,
//! with a connection pool shared by the upstream's checks (so an endpoint is
//! not reconnected for every check). Any 2xx is a pass.

use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header, uri::PathAndQuery};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use super::{CheckFailure, Endpoint};

/// The most of a reply body read (and dropped) so the connection can be reused.
const MAX_DRAINED_BODY: usize = 64 << 10;

/// The client of an upstream's HTTP checks.
pub(super) type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A client for HTTP checks; the caller bounds each check with its timeout.
pub(super) fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// The check of one endpoint.
#[derive(Debug)]
pub(super) struct HttpProbe {
    client: HttpClient,
    uri: Uri,
    /// The configured `host:port` of an endpoint resolved from a name.
    host: Option<HeaderValue>,
}

impl HttpProbe {
    /// GETs `path` on the address of `endpoint`, naming its configured
    /// host in `Host`.
    pub(super) fn new(
        client: HttpClient,
        endpoint: &Endpoint,
        path: &PathAndQuery,
    ) -> Result<Self, http::Error> {
        let target = endpoint.connect_uri();
        let mut builder = Uri::builder().path_and_query(path.clone());
        if let Some(scheme) = target.scheme() {
            builder = builder.scheme(scheme.clone());
        }
        if let Some(authority) = target.authority() {
            builder = builder.authority(authority.clone());
        }
        let host = endpoint.host_header().cloned();
        Ok(Self { client, uri: builder.build()?, host })
    }

    /// One GET: a pass when it answers 2xx.
    pub(super) async fn check(&self) -> Result<(), CheckFailure> {
        let mut request = Request::get(self.uri.clone())
            .header(header::USER_AGENT, "protogate-health-check")
            .body(Empty::new())
            .map_err(|e| CheckFailure::Request(e.to_string()))?;
        if let Some(host) = &self.host {
            request.headers_mut().insert(header::HOST, host.clone());
        }
        let response =
            self.client.request(request).await.map_err(|e| CheckFailure::Request(e.to_string()))?;
        let status = response.status();
        // Read what little the endpoint sends so the pool keeps the
        // connection; a body too large or cut short only costs the reuse.
        let _ = Limited::new(response.into_body(), MAX_DRAINED_BODY).collect().await;
        if status.is_success() { Ok(()) } else { Err(CheckFailure::HttpStatus(status)) }
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, net::SocketAddr};

    use http::{Response, StatusCode};
    use hyper::{body::Incoming, server::conn::http1, service::service_fn};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use super::*;
    use crate::upstream::{UpstreamProtocol, UpstreamSettings};

    /// An HTTP/1.1 server on 127.0.0.1: 200 on /healthz, 503 on /down, 404
    /// elsewhere; on /host, 200 when `Host` names localhost, else 400.
    async fn server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a test server");
        let addr = listener.local_addr().expect("the test server's address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = service_fn(move |request: Request<Incoming>| async move {
                    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
                    let status = match request.uri().path() {
                        "/healthz" => StatusCode::OK,
                        "/down" => StatusCode::SERVICE_UNAVAILABLE,
                        "/host" if host == Some(&format!("localhost:{}", addr.port())) => StatusCode::OK,
                        "/host" => StatusCode::BAD_REQUEST,
                        _ => StatusCode::NOT_FOUND,
                    };
                    let mut response = Response::new("ok".to_owned());
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        addr
    }

    /// The probe of the endpoint `uri` at `address`.
    fn probe(uri: &str, address: SocketAddr, path: &'static str) -> HttpProbe {
        let settings = UpstreamSettings { protocol: UpstreamProtocol::Http, ..Default::default() };
        let endpoint =
            Endpoint::new(uri.parse().expect("a valid URI"), address, &settings, None).expect("an endpoint");
        HttpProbe::new(client(), &endpoint, &PathAndQuery::from_static(path)).expect("a valid probe URI")
    }

    #[tokio::test]
    async fn a_2xx_passes_and_anything_else_fails() {
        let addr = server().await;
        let endpoint = format!("http://{addr}");
        assert_eq!(probe(&endpoint, addr, "/healthz").check().await, Ok(()));
        assert_eq!(
            probe(&endpoint, addr, "/down").check().await,
            Err(CheckFailure::HttpStatus(StatusCode::SERVICE_UNAVAILABLE))
        );
        assert_eq!(
            probe(&endpoint, addr, "/missing?x=1").check().await,
            Err(CheckFailure::HttpStatus(StatusCode::NOT_FOUND))
        );
    }

    #[tokio::test]
    async fn a_named_endpoint_is_asked_at_its_address_for_its_host() {
        let addr = server().await;
        let named = format!("http://localhost:{}", addr.port());
        assert_eq!(probe(&named, addr, "/host").check().await, Ok(()));
        assert_eq!(
            probe(&format!("http://{addr}"), addr, "/host").check().await,
            Err(CheckFailure::HttpStatus(StatusCode::BAD_REQUEST))
        );
    }

    #[tokio::test]
    async fn an_endpoint_that_refuses_connections_fails() {
        // Bound but never listening: refused, and no other test takes the port.
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.bind("127.0.0.1:0".parse().expect("an address")).expect("bind a port");
        let addr = socket.local_addr().expect("its address");
        let endpoint = format!("http://{addr}");
        assert!(matches!(probe(&endpoint, addr, "/healthz").check().await, Err(CheckFailure::Request(_))));
    }
}
