//! The gateway service: one request, start to end, against the current
//! runtime.
//!
//! It loads the runtime once per request (a reload swaps it whole; requests
//! in flight finish on the one they started with), asks the router for the
//! route, and hands the request to the route's target: for a transcoded
//! route after reading the body within its limits, for a pass-through route
//! with the body streaming. Every refusal goes through [`crate::error`].

use std::{borrow::Cow, net::SocketAddr, sync::Arc, time::Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, Uri, header, uri::PathAndQuery};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{
    body::{BoxError, ResponseBody, full},
    error::GatewayError,
    router::{RouteError, normalize_path},
    runtime::Runtime,
    transcode::target::{TranscodeRequest, TranscodeTarget},
};

/// The gateway: the current runtime, swappable.
#[derive(Debug)]
pub struct Gateway {
    runtime: ArcSwap<Runtime>,
}

impl Gateway {
    /// A gateway serving `runtime`.
    pub fn new(runtime: Runtime) -> Self {
        Self { runtime: ArcSwap::from_pointee(runtime) }
    }

    /// The runtime requests are served from now.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Serves new requests from `runtime`; requests in flight finish on the old one.
    pub fn replace(&self, runtime: Runtime) {
        self.runtime.store(Arc::new(runtime));
    }

    /// Serves one request from a client at `peer`, dispatching it as the
    /// house plan's rules say: a native gRPC call to the service's route; a
    /// transcoded binding (the most specific template; 405 when only the
    /// method is wrong); a pass-through prefix; else 404.
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let received_at = Instant::now();
        let runtime = self.runtime.load_full();
        if is_grpc(request.headers())
            && let Some(proxy) = runtime.services().lookup(request.uri().path())
        {
            return match proxy.call(request, peer).await {
                Ok(response) => response,
                Err(error) => GatewayError::from(error).into_grpc_response(),
            };
        }
        let result = match runtime.router().lookup(request.method(), request.uri().path()) {
            Ok(found) => {
                let captures = found.captures;
                let target = found.value.clone();
                transcode(&runtime, &target, request, &captures, peer, received_at).await
            }
            Err(RouteError::NotFound) => pass_through(&runtime, request, peer).await,
            Err(error) => Err(GatewayError::from((error, request.method(), request.uri().path()))),
        };
        result.unwrap_or_else(GatewayError::into_response)
    }
}

/// Whether a request is a native gRPC call (`application/grpc`, `application/grpc+proto`...).
fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|value| {
        let value = value.as_bytes();
        value.starts_with(b"application/grpc") && !value.starts_with(b"application/grpc-web")
    })
}

async fn transcode<B>(
    runtime: &Runtime,
    target: &TranscodeTarget,
    request: Request<B>,
    captures: &[String],
    peer: SocketAddr,
    received_at: Instant,
) -> Result<Response<ResponseBody>, GatewayError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let limits = runtime.limits();
    let body = tokio::time::timeout(
        limits.body_read_timeout,
        read_body(body, &parts.headers, limits.max_body_bytes),
    )
    .await
    .map_err(|_| GatewayError::body_too_slow(limits.body_read_timeout))??;
    let request = TranscodeRequest { parts: &parts, captures, body, peer: peer.ip(), received_at };
    let response = target.call(request).await?;
    Ok(response.map(full))
}

/// A pass-through route for the request, by the longest prefix of its
/// normalised path; the request goes on with that path.
async fn pass_through<B>(
    runtime: &Runtime,
    request: Request<B>,
    peer: SocketAddr,
) -> Result<Response<ResponseBody>, GatewayError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let not_found = || GatewayError::from((RouteError::NotFound, request.method(), request.uri().path()));
    let Some(path) = normalize_path(request.uri().path()).map(Cow::into_owned) else {
        return Err(not_found());
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    let Some(proxy) = runtime.prefixes().lookup(host, request.method(), &path) else {
        return Err(not_found());
    };
    let proxy = proxy.clone();
    let request = with_path(request, &path)
        .ok_or_else(|| GatewayError::bad_request("the request path cannot be normalised"))?;
    Ok(proxy.call(request, peer).await?)
}

/// `request` with its path replaced by `path` (the query kept); `None` if
/// the result is not a valid URI.
fn with_path<B>(request: Request<B>, path: &str) -> Option<Request<B>> {
    if request.uri().path() == path {
        return Some(request);
    }
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut uri = parts.uri.into_parts();
    uri.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    parts.uri = Uri::from_parts(uri).ok()?;
    Some(Request::from_parts(parts, body))
}

/// The whole body, or 413 past `limit` (refused before reading when the
/// declared length already says so).
async fn read_body<B>(body: B, headers: &http::HeaderMap, limit: usize) -> Result<Bytes, GatewayError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(GatewayError::payload_too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(GatewayError::payload_too_large(limit)),
        Err(error) => Err(GatewayError::bad_request(format!("cannot read the request body: {error}"))),
    }
}
