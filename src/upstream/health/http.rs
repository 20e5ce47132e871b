//! The HTTP check: a GET on the configured path, over HTTP/1.1 cleartext,
//! with a connection pool shared by the upstream's checks (so an endpoint is
//! not reconnected for every check). Any 2xx is a pass.

use bytes::Bytes;
use http::{Request, Uri, header, uri::PathAndQuery};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use super::CheckFailure;

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
}

impl HttpProbe {
    /// GETs `path` on the host and port of `endpoint`.
    pub(super) fn new(client: HttpClient, endpoint: &Uri, path: &PathAndQuery) -> Result<Self, http::Error> {
        let mut builder = Uri::builder().path_and_query(path.clone());
        if let Some(scheme) = endpoint.scheme() {
            builder = builder.scheme(scheme.clone());
        }
        if let Some(authority) = endpoint.authority() {
            builder = builder.authority(authority.clone());
        }
        Ok(Self { client, uri: builder.build()? })
    }

    /// One GET: a pass when it answers 2xx.
    pub(super) async fn check(&self) -> Result<(), CheckFailure> {
        let request = Request::get(self.uri.clone())
            .header(header::USER_AGENT, "protogate-health-check")
            .body(Empty::new())
            .map_err(|e| CheckFailure::Request(e.to_string()))?;
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
    use std::convert::Infallible;

    use http::{Response, StatusCode};
    use hyper::{body::Incoming, server::conn::http1, service::service_fn};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use super::*;

    /// An HTTP/1.1 server on 127.0.0.1: 200 on /healthz, 503 on /down, 404 elsewhere.
    async fn server() -> Uri {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a test server");
        let addr = listener.local_addr().expect("the test server's address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = service_fn(|request: Request<Incoming>| async move {
                    let status = match request.uri().path() {
                        "/healthz" => StatusCode::OK,
                        "/down" => StatusCode::SERVICE_UNAVAILABLE,
                        _ => StatusCode::NOT_FOUND,
                    };
                    let mut response = Response::new("ok".to_owned());
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        format!("http://{addr}").parse().expect("a valid URI")
    }

    fn probe(endpoint: &Uri, path: &'static str) -> HttpProbe {
        HttpProbe::new(client(), endpoint, &PathAndQuery::from_static(path)).expect("a valid probe URI")
    }

    #[tokio::test]
    async fn a_2xx_passes_and_anything_else_fails() {
        let endpoint = server().await;
        assert_eq!(probe(&endpoint, "/healthz").check().await, Ok(()));
        assert_eq!(
            probe(&endpoint, "/down").check().await,
            Err(CheckFailure::HttpStatus(StatusCode::SERVICE_UNAVAILABLE))
        );
        assert_eq!(
            probe(&endpoint, "/missing?x=1").check().await,
            Err(CheckFailure::HttpStatus(StatusCode::NOT_FOUND))
        );
    }

    #[tokio::test]
    async fn an_endpoint_that_refuses_connections_fails() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let endpoint: Uri =
            format!("http://{}", listener.local_addr().expect("its address")).parse().expect("a valid URI");
        drop(listener);
        assert!(matches!(probe(&endpoint, "/healthz").check().await, Err(CheckFailure::Request(_))));
    }
}
