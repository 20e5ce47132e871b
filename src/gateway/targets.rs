//! The two kinds of target as the gateway calls them: a transcoded call
//! with its body read within the limits, and a pass-through route found by
//! the longest prefix of the normalised path, with its body streaming.

use std::{borrow::Cow, net::SocketAddr, time::Instant};

use bytes::Bytes;
use http::{Request, Response, Uri, header, uri::PathAndQuery};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{
    body::{BoxError, ResponseBody},
    error::GatewayError,
    router::{RouteError, normalize_path},
    runtime::{ProxiedRoute, Runtime},
    transcode::target::{TranscodeRequest, TranscodeTarget},
};

/// Reads the body within the limits and calls the transcoding target.
pub(super) async fn transcode<B>(
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
    let limits = runtime.body_limits();
    let body = tokio::time::timeout(
        limits.body_read_timeout,
        read_body(body, &parts.headers, limits.max_body_bytes),
    )
    .await
    .map_err(|_| GatewayError::body_too_slow(limits.body_read_timeout))??;
    let request = TranscodeRequest { parts: &parts, captures, body, peer: peer.ip(), received_at };
    Ok(target.call(request).await?)
}

/// The pass-through route of a request, by the longest prefix of its
/// normalised path, and the request with that path; 404 when none matches.
pub(super) fn find_prefix<B>(
    runtime: &Runtime,
    request: Request<B>,
) -> Result<(ProxiedRoute, Request<B>), Box<GatewayError>> {
    let not_found =
        || Box::new(GatewayError::from((RouteError::NotFound, request.method(), request.uri().path())));
    // Most paths are already normal: only a rewritten one is allocated.
    let rewritten = match normalize_path(request.uri().path()) {
        None => return Err(not_found()),
        Some(Cow::Borrowed(_)) => None,
        Some(Cow::Owned(path)) => Some(path),
    };
    let path = rewritten.as_deref().unwrap_or(request.uri().path());
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    let Some(route) = runtime.prefixes().lookup(host, request.method(), path).cloned() else {
        return Err(not_found());
    };
    let request = match rewritten {
        None => request,
        Some(path) => with_path(request, &path)
            .ok_or_else(|| Box::new(GatewayError::bad_request("the request path cannot be normalised")))?,
    };
    Ok((route, request))
}

/// `request` with its path replaced by `path` (the query kept); `None` if
/// the result is not a valid URI.
fn with_path<B>(request: Request<B>, path: &str) -> Option<Request<B>> {
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
