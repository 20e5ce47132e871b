//! The gateway service: one request, start to end, against the current
//! runtime.
//!
//! It loads the runtime once per request (a reload swaps it whole; requests
//! in flight finish on the one they started with), asks the router which
//! route the request belongs to ([`router::decide`]: native gRPC, gRPC-Web
//! (translated around the native pass-through), CORS preflight, WebSocket stream, transcoded binding, pass-through prefix, or
//! none) and acts on
//! the decision: a preflight is answered by the announced route's CORS
//! policy; otherwise the route's policy chain admits or refuses the
//! request, and its target serves it. Every refusal goes through
//! [`crate::error`]. A `GET /openapi.json` no route takes gets the OpenAPI
//! document when the config serves it on the main listeners.
//!
//! Each request gets one [`RequestContext`], shared with the targets, and
//! the gateway's [`Observer`] hears its phases (see [`crate::observe`]).

mod phases;
mod targets;

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header, request::Parts};
use http_body::Body;
use tonic::Code;
use tracing::Instrument;

use crate::{
    body::{BoxError, ResponseBody, full},
    error::GatewayError,
    observe::{self, Connection, Observer, Phase, RequestContext, RouteKind, TracingObserver},
    proxy::grpc_web::{self, GrpcWebMode},
    router::{self, Decision, RouteError},
    runtime::{ProxiedRoute, Runtime, TranscodedRoute},
};

/// The gateway: the current runtime, swappable, and the observer of every
/// request.
pub struct Gateway {
    runtime: ArcSwap<Runtime>,
    observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("runtime", &self.runtime).finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway serving `runtime`, its requests observed by a
    /// [`TracingObserver`].
    pub fn new(runtime: Runtime) -> Self {
        Self::with_observer(runtime, Arc::new(TracingObserver))
    }

    /// A gateway serving `runtime`, its requests observed by `observer`.
    pub fn with_observer(runtime: Runtime, observer: Arc<dyn Observer>) -> Self {
        Self { runtime: ArcSwap::from_pointee(runtime), observer }
    }

    /// The runtime requests are served from now.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Serves new requests from `runtime`; requests in flight finish on the old one.
    pub fn replace(&self, runtime: Runtime) {
        self.runtime.store(Arc::new(runtime));
    }

    /// Serves one request that came on `connection`. The response carries
    /// the request id; its body tells the observer when it finished. A
    /// `HEAD` request is served as its `GET` would be (the router matches it
    /// so), without the body.
    pub async fn handle<B>(&self, request: Request<B>, connection: Connection) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let head_only = parts.method == Method::HEAD;
        let mut context = RequestContext::new(connection, &parts, self.observer.clone());
        context.observe(Phase::RequestReceived { head: &parts });
        let runtime = self.runtime.load_full();
        let decision = router::decide(&parts, runtime.tables());
        if let Some((id, kind)) = matched(&decision) {
            context.set_route(id);
            if let Decision::Transcoded { route, .. } = &decision {
                context.set_grpc_method(route.value.target.grpc_path());
            }
            context.observe(Phase::RouteMatched { kind });
        }
        let context = Arc::new(context);
        let body = observe::counted(body, context.clone());
        let span = tracing::debug_span!(
            target: "protogate::span",
            "request",
            request_id = ?context.request_id(),
            traceparent = ?context.trace().traceparent(),
            route = context.route(),
        );
        let mut response = serve(&runtime, decision, parts, body, &context).instrument(span).await;
        if head_only {
            response = without_body(response);
        }
        response.headers_mut().insert(observe::X_REQUEST_ID, context.request_id().clone());
        observe::observed(response, context)
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

/// The id and kind of the route a decision chose, if it chose one.
fn matched<'a>(decision: &Decision<'a, TranscodedRoute, ProxiedRoute>) -> Option<(&'a Arc<str>, RouteKind)> {
    match decision {
        Decision::NativeGrpc(route) => Some((route.id, RouteKind::NativeGrpc)),
        Decision::GrpcWeb(route) => Some((route.id, RouteKind::GrpcWeb)),
        Decision::Preflight { id, .. } => Some((id, RouteKind::Preflight)),
        Decision::Transcoded { route, .. } => Some((route.id, RouteKind::Transcoded)),
        Decision::WebSocket { route, .. } => Some((route.id, RouteKind::WebSocket)),
        Decision::Proxied { route, .. } => Some((route.id, RouteKind::Proxied)),
        Decision::MethodNotServed | Decision::NotFound | Decision::MethodNotAllowed { .. } => None,
    }
}

/// Acts on the router's decision.
async fn serve<B>(
    runtime: &Runtime,
    decision: Decision<'_, TranscodedRoute, ProxiedRoute>,
    parts: Parts,
    body: B,
    context: &Arc<RequestContext>,
) -> Response<ResponseBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    match decision {
        Decision::NativeGrpc(route) => {
            let route = route.value;
            let host = forwarded_host(&parts);
            let serve = |request| async move { Ok(route.target.call(request, context, host).await?) };
            let request = Request::from_parts(parts, body);
            phases::guarded(&route.policies, request, context, serve, GatewayError::into_grpc_response).await
        }
        Decision::GrpcWeb(route) => targets::grpc_web(runtime, route.value, parts, body, context).await,
        Decision::Preflight { answerer, .. } => phases::preflight(answerer, &parts.headers, context),
        Decision::Transcoded { route, captures } => {
            let route = route.value;
            let serve = |request| targets::transcode(runtime, &route.target, request, &captures, context);
            let request = Request::from_parts(parts, body);
            phases::guarded(&route.policies, request, context, serve, GatewayError::into_response).await
        }
        Decision::WebSocket { route, captures } => {
            let route = route.value;
            let serve = |request| targets::websocket(route, request, &captures, context);
            let request = Request::from_parts(parts, body);
            phases::guarded(&route.policies, request, context, serve, GatewayError::into_response).await
        }
        Decision::Proxied { route, path } => {
            let route = route.value;
            let host = forwarded_host(&parts);
            let grpc = router::is_grpc(&parts.headers);
            let request = match targets::with_path(Request::from_parts(parts, body), path) {
                Ok(request) => request,
                Err(refusal) => return refuse(*refusal, Protocol::of(grpc), context),
            };
            let serve = |request| async move { Ok(route.target.call(request, context, host).await?) };
            phases::guarded(&route.policies, request, context, serve, GatewayError::into_response).await
        }
        Decision::MethodNotServed => {
            let message = format!("the method {} is not served here", parts.uri.path());
            let protocol = Protocol::of(true).or_web(&parts);
            refuse(GatewayError::from_grpc(Code::Unimplemented, message), protocol, context)
        }
        Decision::NotFound if is_openapi_request(runtime, &parts) => {
            let mut response = Response::new(full(runtime.openapi().json.clone()));
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Decision::NotFound => no_route(RouteError::NotFound, &parts, context),
        Decision::MethodNotAllowed { allow } => {
            no_route(RouteError::MethodNotAllowed { allow }, &parts, context)
        }
    }
}

/// A `GET /openapi.json` the main listeners answer (`openapi.serve_on:
/// main`), when no route of the config took it.
fn is_openapi_request(runtime: &Runtime, parts: &Parts) -> bool {
    runtime.openapi().on_main
        && (parts.method == Method::GET || parts.method == Method::HEAD)
        && parts.uri.path() == "/openapi.json"
}

/// The host a pass-through call forwards (`X-Forwarded-Host`, or `Host`
/// with `preserve_host`).
fn forwarded_host(parts: &Parts) -> Option<HeaderValue> {
    router::request_host(&parts.headers, &parts.uri).and_then(|host| host.to_header_value())
}

/// The answer to a request no route takes, in the client's protocol.
fn no_route(error: RouteError, parts: &Parts, context: &Arc<RequestContext>) -> Response<ResponseBody> {
    let protocol = Protocol::of(router::is_grpc(&parts.headers)).or_web(parts);
    refuse(GatewayError::from((error, &parts.method, parts.uri.path())), protocol, context)
}

/// The protocol a client speaks, as its refusals must be told.
#[derive(Clone, Copy)]
enum Protocol {
    /// HTTP: a JSON error.
    Http,
    /// Native gRPC: a trailers-only status.
    Grpc,
    /// gRPC-Web: the status in the trailer frame.
    GrpcWeb(GrpcWebMode),
}

impl Protocol {
    fn of(grpc: bool) -> Self {
        if grpc { Self::Grpc } else { Self::Http }
    }

    /// gRPC-Web when the request's content type says so.
    fn or_web(self, parts: &Parts) -> Self {
        match router::is_grpc_web(&parts.headers) {
            true => Self::GrpcWeb(GrpcWebMode::of(&parts.headers)),
            false => self,
        }
    }
}

/// A refusal in the client's protocol. A gRPC (or gRPC-Web) client gets a
/// status, and a call no route serves is UNIMPLEMENTED to it, as a gRPC
/// server says of a method it does not have. A wrong method (gRPC is POST
/// only) stays a 405 with its `Allow`, the status in it.
fn refuse(error: GatewayError, protocol: Protocol, context: &Arc<RequestContext>) -> Response<ResponseBody> {
    let error = match protocol {
        Protocol::Http => return error.into_response(),
        Protocol::Grpc | Protocol::GrpcWeb(_) if error.status() == StatusCode::NOT_FOUND => {
            GatewayError::from_grpc(Code::Unimplemented, error.message())
        }
        Protocol::Grpc | Protocol::GrpcWeb(_) => error,
    };
    let method_not_allowed = error.status() == StatusCode::METHOD_NOT_ALLOWED;
    let mut response = match protocol {
        Protocol::GrpcWeb(mode) => grpc_web::to_grpc_web(mode, error.into_grpc_response(), context.clone()),
        Protocol::Http | Protocol::Grpc => error.into_grpc_response(),
    };
    if method_not_allowed {
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    }
    response
}
