//! The gateway service: one request, start to end, against the current
//! runtime.
//!
//! It loads the runtime once per request (a reload swaps it whole; requests
//! in flight finish on the one they started with), asks the router for the
//! route, reads the body within its limit, and hands the request to the
//! route's target. Every refusal goes through [`crate::error`].

use std::{net::SocketAddr, sync::Arc, time::Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response, header};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{
    body::{BoxError, ResponseBody, full},
    error::GatewayError,
    runtime::Runtime,
    transcode::target::TranscodeRequest,
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

    /// Serves one request from a client at `peer`.
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        match self.try_handle(request, peer).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    async fn try_handle<B>(
        &self,
        request: Request<B>,
        peer: SocketAddr,
    ) -> Result<Response<ResponseBody>, GatewayError>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let received_at = Instant::now();
        let runtime = self.runtime.load();
        let (parts, body) = request.into_parts();
        let found = runtime
            .router()
            .lookup(&parts.method, parts.uri.path())
            .map_err(|error| GatewayError::from((error, &parts.method, parts.uri.path())))?;
        let limits = runtime.limits();
        let body = tokio::time::timeout(
            limits.body_read_timeout,
            read_body(body, &parts.headers, limits.max_body_bytes),
        )
        .await
        .map_err(|_| GatewayError::body_too_slow(limits.body_read_timeout))??;
        let request =
            TranscodeRequest { parts: &parts, captures: &found.captures, body, peer: peer.ip(), received_at };
        let response = found.value.call(request).await?;
        Ok(response.map(full))
    }
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
