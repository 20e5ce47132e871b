//! The two kinds of target as the gateway calls them: a transcoded call
//! with its body read within the limits (or, for a client or bidirectional
//! stream, handed over unread: its messages are bounded one by one), and a
//! pass-through call with the normalised path the dispatcher chose (its
//! body streams), and a gRPC-Web call translated around the native gRPC
//! pass-through of its service's route.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, Uri, header, request::Parts, uri::PathAndQuery};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{
    body::{BoxError, ResponseBody},
    error::GatewayError,
    observe::RequestContext,
    proxy::grpc_web::{self, GrpcWebMode},
    router,
    runtime::{ProxiedRoute, Runtime, TranscodedRoute},
    transcode::target::{StreamingRequest, TranscodeRequest, TranscodeTarget, WebSocketRequest},
};

/// Reads the body within the limits and calls the transcoding target.
pub(super) async fn transcode<B>(
    runtime: &Runtime,
    target: &TranscodeTarget,
    request: Request<B>,
    captures: &[String],
    context: &Arc<RequestContext>,
) -> Result<Response<ResponseBody>, GatewayError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    if target.streams_requests() {
        let host = router::request_host(&parts.headers, &parts.uri).map(|host| host.as_str());
        let body = body.map_err(Into::into).boxed_unsync();
        let request = StreamingRequest { parts: &parts, captures, body, host, context };
        return Ok(target.call_streaming(request).await?);
    }
    let limits = runtime.body_limits();
    let body = tokio::time::timeout(
        limits.body_read_timeout,
        read_body(body, &parts.headers, limits.max_body_bytes),
    )
    .await
    .map_err(|_| GatewayError::body_too_slow(limits.body_read_timeout))??;
    let host = router::request_host(&parts.headers, &parts.uri).map(|host| host.as_str());
    let request = TranscodeRequest { parts: &parts, captures, body, host, context };
    Ok(target.call(request).await?)
}

/// Answers a WebSocket upgrade on a streaming binding (after its route's
/// policies admitted it) and runs the session in a task of its own once
/// hyper hands the connection over; the session holds the connection
/// (and its route's target) until it closes.
pub(super) async fn websocket<B>(
    route: &TranscodedRoute,
    mut request: Request<B>,
    captures: &[String],
    context: &Arc<RequestContext>,
) -> Result<Response<ResponseBody>, GatewayError> {
    let upgrade = hyper::upgrade::on(&mut request);
    let (parts, _body) = request.into_parts();
    let host = router::request_host(&parts.headers, &parts.uri).map(|host| host.as_str());
    let request = WebSocketRequest { parts: &parts, captures, host, context };
    let (response, session) = route.target.accept_websocket(request)?;
    let route = route.clone();
    tokio::spawn(async move { route.target.run_websocket(session, upgrade).await });
    Ok(response)
}

/// Serves a gRPC-Web call: translated to native gRPC (its one message
/// within `limits.max_body_bytes`), through the route's policies (a
/// refusal is a gRPC status) to its upstream, and the answer (or the
/// refusal) translated back.
pub(super) async fn grpc_web<B>(
    runtime: &Runtime,
    route: &ProxiedRoute,
    parts: Parts,
    body: B,
    context: &Arc<RequestContext>,
) -> Response<ResponseBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mode = GrpcWebMode::of(&parts.headers);
    let limit = runtime.body_limits().max_body_bytes;
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let decoded = declared.map(|length| if mode == GrpcWebMode::Text { length / 4 * 3 } else { length });
    let response = if decoded.is_some_and(|length| length > limit as u64) {
        GatewayError::payload_too_large(limit).into_grpc_response()
    } else {
        let host = router::request_host(&parts.headers, &parts.uri).and_then(|host| host.to_header_value());
        let request = grpc_web::to_grpc(mode, parts, body);
        let serve =
            |request| async move { Ok(route.target.call_within(request, context, host, Some(limit)).await?) };
        super::phases::guarded(&route.policies, request, context, serve, GatewayError::into_grpc_response)
            .await
    };
    grpc_web::to_grpc_web(mode, response, context.clone())
}

/// `request` going on with the normalised `path` (its query kept), when the
/// dispatcher rewrote it.
pub(super) fn with_path<B>(
    request: Request<B>,
    path: Option<String>,
) -> Result<Request<B>, Box<GatewayError>> {
    let Some(path) = path else { return Ok(request) };
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let cannot = || Box::new(GatewayError::bad_request("the request path cannot be normalised"));
    let mut uri = parts.uri.into_parts();
    uri.path_and_query = Some(PathAndQuery::try_from(path_and_query).map_err(|_| cannot())?);
    parts.uri = Uri::from_parts(uri).map_err(|_| cannot())?;
    Ok(Request::from_parts(parts, body))
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
