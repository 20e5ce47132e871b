//! The gateway service: one request, start to end, against the current
//! runtime.
//!
//! It loads the runtime once per request (a reload swaps it whole; requests
//! in flight finish on the one they started with), asks the router which
//! route the request belongs to ([`router::decide`]: native gRPC, CORS
//! preflight, transcoded binding, pass-through prefix, or none) and acts on
//! the decision: a preflight is answered by the announced route's CORS
//! policy; otherwise the route's policy chain admits or refuses the
//! request, and its target serves it. Every refusal goes through
//! [`crate::error`].

mod phases;
mod targets;

use std::{net::SocketAddr, sync::Arc, time::Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, request::Parts};
use http_body::Body;

use crate::{
    body::{BoxError, ResponseBody},
    error::GatewayError,
    router::{self, Decision, RouteError},
    runtime::Runtime,
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
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let received_at = Instant::now();
        let runtime = self.runtime.load_full();
        let (parts, body) = request.into_parts();
        match router::decide(&parts, runtime.tables()) {
            Decision::NativeGrpc(route) => {
                let route = route.value;
                let host = forwarded_host(&parts);
                let serve = |request| async move { Ok(route.target.call(request, peer, host).await?) };
                let request = Request::from_parts(parts, body);
                phases::guarded(&route.policies, request, peer.ip(), serve, GatewayError::into_grpc_response)
                    .await
            }
            Decision::Preflight { answerer, .. } => phases::preflight(answerer, &parts.headers),
            Decision::Transcoded { route, captures } => {
                let route = route.value;
                let serve = |request| {
                    targets::transcode(&runtime, &route.target, request, &captures, peer, received_at)
                };
                let request = Request::from_parts(parts, body);
                phases::guarded(&route.policies, request, peer.ip(), serve, GatewayError::into_response).await
            }
            Decision::Proxied { route, path } => {
                let route = route.value;
                let host = forwarded_host(&parts);
                let request = match targets::with_path(Request::from_parts(parts, body), path) {
                    Ok(request) => request,
                    Err(refusal) => return refusal.into_response(),
                };
                let serve = |request| async move { Ok(route.target.call(request, peer, host).await?) };
                phases::guarded(&route.policies, request, peer.ip(), serve, GatewayError::into_response).await
            }
            Decision::NotFound => refusal(RouteError::NotFound, &parts),
            Decision::MethodNotAllowed { allow } => refusal(RouteError::MethodNotAllowed { allow }, &parts),
        }
    }
}

/// The host a pass-through call forwards (`X-Forwarded-Host`, or `Host`
/// with `preserve_host`).
fn forwarded_host(parts: &Parts) -> Option<HeaderValue> {
    router::request_host(&parts.headers, &parts.uri).and_then(|host| host.to_header_value())
}

/// The answer to a request no route takes.
fn refusal(error: RouteError, parts: &Parts) -> Response<ResponseBody> {
    GatewayError::from((error, &parts.method, parts.uri.path())).into_response()
}
