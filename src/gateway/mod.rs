//! The gateway service: one request, start to end, against the current
//! runtime.
//!
//! It loads the runtime once per request (a reload swaps it whole; requests
//! in flight finish on the one they started with) and dispatches the
//! request as the house plan's rules say:
//!
//! 1. a native gRPC call goes to the route that owns its service;
//! 2. a CORS preflight is answered by the policy of the route it announces;
//! 3. a transcoded binding (the most specific template; 405 when only the
//!    method is wrong, with no fall-through);
//! 4. a pass-through route by the longest prefix of the normalised path;
//! 5. else 404.
//!
//! The route's policy chain then admits or refuses the request, and its
//! target serves it. Every refusal goes through [`crate::error`].

mod phases;
mod targets;

use std::{net::SocketAddr, sync::Arc, time::Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use tonic::Code;

use crate::{
    body::{BoxError, ResponseBody, full},
    error::GatewayError,
    policy::cors,
    router::{RouteError, ServiceLookup},
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

    /// Serves one request from a client at `peer`. A `HEAD` request is
    /// served as its `GET` would be (the router matches it so), without the
    /// body.
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if request.method() == Method::HEAD {
            return without_body(self.dispatch(request, peer).await);
        }
        self.dispatch(request, peer).await
    }

    async fn dispatch<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let received_at = Instant::now();
        let runtime = self.runtime.load_full();
        let grpc = is_grpc(request.headers());
        if grpc {
            match runtime.services().lookup(request.uri().path()) {
                ServiceLookup::Served(route) => {
                    let route = route.clone();
                    let policies = route.policies.clone();
                    let serve = |request| async move { Ok(route.target.call(request, peer).await?) };
                    return phases::guarded(
                        &policies,
                        request,
                        peer.ip(),
                        serve,
                        GatewayError::into_grpc_response,
                    )
                    .await;
                }
                ServiceLookup::MethodNotServed => {
                    let message = format!("the method {} is not served here", request.uri().path());
                    return GatewayError::from_grpc(Code::Unimplemented, message).into_grpc_response();
                }
                ServiceLookup::UnknownService => {}
            }
        }
        if cors::is_preflight(request.method(), request.headers())
            && let Some(answer) = phases::preflight(&runtime, &request)
        {
            return answer;
        }
        match runtime.router().lookup(request.method(), request.uri().path()) {
            Ok(found) => {
                let (route, captures) = (found.value.clone(), found.captures);
                let serve = |request| {
                    targets::transcode(&runtime, &route.target, request, &captures, peer, received_at)
                };
                phases::guarded(&route.policies, request, peer.ip(), serve, GatewayError::into_response).await
            }
            Err(RouteError::NotFound) => match targets::find_prefix(&runtime, request) {
                Ok((route, request)) => {
                    let policies = route.policies.clone();
                    let serve = |request| async move { Ok(route.target.call(request, peer).await?) };
                    phases::guarded(&policies, request, peer.ip(), serve, GatewayError::into_response).await
                }
                Err(refusal) => refuse(*refusal, grpc),
            },
            Err(error) => refuse(GatewayError::from((error, request.method(), request.uri().path())), grpc),
        }
    }
}

/// The response to a `HEAD` request: the head of `response`, with the
/// length its body would have had.
fn without_body(response: Response<ResponseBody>) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    if let Some(length) = body.size_hint().exact()
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, full(Bytes::new()))
}

/// A refusal in the client's protocol. A gRPC client gets a trailers-only
/// status, and a call no route serves is UNIMPLEMENTED to it, as a gRPC
/// server says of a method it does not have.
fn refuse(error: GatewayError, grpc: bool) -> Response<ResponseBody> {
    match grpc {
        false => error.into_response(),
        true if error.status() == StatusCode::NOT_FOUND => {
            GatewayError::from_grpc(Code::Unimplemented, error.message()).into_grpc_response()
        }
        true => error.into_grpc_response(),
    }
}

/// Whether a request is a native gRPC call (`application/grpc`, `application/grpc+proto`...).
fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|value| {
        let value = value.as_bytes();
        value.starts_with(b"application/grpc") && !value.starts_with(b"application/grpc-web")
    })
}
