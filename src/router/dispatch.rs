//! The one dispatcher: which route a request belongs to, decided from its
//! head alone, in the house plan's order:
//!
//! 1. a native gRPC call (`content-type: application/grpc*`) or a gRPC-Web
//!    one (`application/grpc-web*`) goes to the route that owns its service
//!    (when that route serves the method); both are POST only, so with any
//!    other method it is method not allowed (a CORS preflight is one at
//!    2., whatever its content type says);
//! 2. a CORS preflight goes to the route of the request it announces (a
//!    gRPC service's route for a method path it serves), when that route
//!    answers preflights (else it is routed like any request);
//! 3. a WebSocket upgrade (`GET` with `Upgrade: websocket`) goes to a
//!    binding that takes WebSocket streams (a client or bidirectional
//!    streaming method's), whatever its verb; else it is routed like any
//!    request below (a pass-through route tunnels it);
//! 4. a transcoded binding by template (when templates match the path only
//!    under other methods: method not allowed, no fall-through);
//! 5. a pass-through route by the longest prefix of the normalised path
//!    (with host and methods when the route names them);
//! 6. else not found.
//!
//! The request's host ([`request_host`]) and its normalised path are read
//! here and nowhere else. The dispatcher knows request heads only: nothing
//! of bodies, and of a route's entry only whether (and with what) it
//! answers preflights ([`AnswersPreflights`]).

use std::{borrow::Cow, sync::Arc};

use http::{HeaderMap, HeaderValue, Method, Uri, header, request::Parts};

use super::{PrefixTable, RouteError, Router, ServiceLookup, ServiceTable, normalize_path};

/// The three indexes of the routing table, as the dispatcher reads them.
pub struct Tables<'a, T, P> {
    /// Transcoded bindings, by template.
    pub templates: &'a Router<T>,
    /// Pass-through routes, by prefix.
    pub prefixes: &'a PrefixTable<P>,
    /// Native gRPC pass-through, by service.
    pub services: &'a ServiceTable<P>,
}

/// What the dispatcher asks of a route's entry: what answers the route's
/// CORS preflights, if anything does.
pub trait AnswersPreflights {
    /// What answers them (the route's CORS policy).
    type Answerer;

    /// The answerer, when the route has one.
    fn preflight_answerer(&self) -> Option<&Self::Answerer>;
}

impl<E: AnswersPreflights> AnswersPreflights for Arc<E> {
    type Answerer = E::Answerer;

    fn preflight_answerer(&self) -> Option<&E::Answerer> {
        (**self).preflight_answerer()
    }
}

/// What the dispatcher asks of a transcoded binding's entry: whether it
/// takes WebSocket streams.
pub trait TakesWebSockets {
    /// Whether a WebSocket upgrade on the binding's path is its stream.
    fn takes_websockets(&self) -> bool;
}

impl<E: TakesWebSockets> TakesWebSockets for Arc<E> {
    fn takes_websockets(&self) -> bool {
        (**self).takes_websockets()
    }
}

/// A route a request matched: its entry and its id.
#[derive(Debug)]
pub struct Matched<'a, T> {
    /// The entry in its table.
    pub value: &'a T,
    /// The route's id: a template, a prefix or a service name, never the
    /// request's own path (so there are as many ids as routes).
    pub id: &'a Arc<str>,
}

/// Which route a request belongs to.
pub enum Decision<'a, T: AnswersPreflights, P> {
    /// A native gRPC call, to the route that owns its service.
    NativeGrpc(Matched<'a, P>),
    /// A gRPC-Web call, to the route that owns its service (translated to
    /// native gRPC on its way).
    GrpcWeb(Matched<'a, P>),
    /// A CORS preflight, to be answered by the route it announces.
    Preflight {
        /// The announced route's id.
        id: &'a Arc<str>,
        /// What answers it.
        answerer: &'a T::Answerer,
    },
    /// A transcoded binding.
    Transcoded {
        /// The binding.
        route: Matched<'a, T>,
        /// The text each variable of its template captured, in order.
        captures: Vec<String>,
    },
    /// A WebSocket upgrade to a streaming binding.
    WebSocket {
        /// The binding.
        route: Matched<'a, T>,
        /// The text each variable of its template captured, in order.
        captures: Vec<String>,
    },
    /// A pass-through route.
    Proxied {
        /// The route.
        route: Matched<'a, P>,
        /// The normalised path the request goes on with, when it differs
        /// from the one it came with.
        path: Option<String>,
    },
    /// A native gRPC (or gRPC-Web) call to a service whose route does not
    /// serve the method (its `grpc.methods` leave it out).
    MethodNotServed,
    /// No route.
    NotFound,
    /// Templates match the path, but only under these other methods.
    MethodNotAllowed {
        /// The methods, for `Allow`.
        allow: Vec<Method>,
    },
}

/// Decides which route the request with head `head` belongs to.
pub fn decide<'a, T, P>(head: &Parts, tables: Tables<'a, T, P>) -> Decision<'a, T, P>
where
    T: AnswersPreflights + TakesWebSockets,
    P: AnswersPreflights<Answerer = T::Answerer>,
{
    let path = head.uri.path();
    let web = is_grpc_web(&head.headers);
    let preflight = is_preflight(&head.method, &head.headers);
    if (web || is_grpc(&head.headers)) && !preflight {
        if head.method != Method::POST {
            return Decision::MethodNotAllowed { allow: vec![Method::POST] };
        }
        match tables.services.find(path) {
            Some((id, ServiceLookup::Served(value))) if web => {
                return Decision::GrpcWeb(Matched { value, id });
            }
            Some((id, ServiceLookup::Served(value))) => return Decision::NativeGrpc(Matched { value, id }),
            Some((_, ServiceLookup::MethodNotServed)) => return Decision::MethodNotServed,
            Some((_, ServiceLookup::UnknownService)) | None => {}
        }
    }
    let host = request_host(&head.headers, &head.uri).map(|host| host.as_str());
    if preflight
        && let Some(method) = announced_method(&head.headers)
        && let Some((id, answerer)) = preflight_of(&tables, host, &method, path)
    {
        return Decision::Preflight { id, answerer };
    }
    if is_websocket_upgrade(head)
        && let Some(found) = tables.templates.lookup_any(path, TakesWebSockets::takes_websockets)
    {
        let route = Matched { value: found.value, id: found.id };
        return Decision::WebSocket { route, captures: found.captures };
    }
    match tables.templates.lookup(&head.method, path) {
        Ok(found) => {
            let route = Matched { value: found.value, id: found.id };
            return Decision::Transcoded { route, captures: found.captures };
        }
        Err(RouteError::MethodNotAllowed { allow }) => return Decision::MethodNotAllowed { allow },
        Err(RouteError::NotFound) => {}
    }
    let Some(normalised) = normalize_path(path) else { return Decision::NotFound };
    let Some((id, value)) = tables.prefixes.find(host, &head.method, &normalised) else {
        return Decision::NotFound;
    };
    let path = match normalised {
        Cow::Borrowed(_) => None,
        Cow::Owned(rewritten) => Some(rewritten),
    };
    Decision::Proxied { route: Matched { value, id }, path }
}

/// The id and answerer of the route whose request a preflight announces
/// (`method` on `path`), if that route answers preflights.
fn preflight_of<'a, T, P>(
    tables: &Tables<'a, T, P>,
    host: Option<&str>,
    method: &Method,
    path: &str,
) -> Option<(&'a Arc<str>, &'a T::Answerer)>
where
    T: AnswersPreflights,
    P: AnswersPreflights<Answerer = T::Answerer>,
{
    let (templates, prefixes) = (tables.templates, tables.prefixes);
    if let Some((id, ServiceLookup::Served(value))) = tables.services.find(path) {
        return Some((id, value.preflight_answerer()?));
    }
    match templates.lookup(method, path) {
        Ok(found) => Some((found.id, found.value.preflight_answerer()?)),
        Err(_) => {
            let normalised = normalize_path(path)?;
            let (id, value) = prefixes.find(host, method, &normalised)?;
            Some((id, value.preflight_answerer()?))
        }
    }
}

/// The host a request is for: its `Host` header, else its URI's authority
/// (HTTP/2's `:authority`, or an absolute-form HTTP/1.1 target).
#[derive(Debug, Clone, Copy)]
pub struct RequestHost<'a> {
    text: &'a str,
    header: Option<&'a HeaderValue>,
}

impl<'a> RequestHost<'a> {
    /// The host as the client wrote it (a port included).
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The host as a header value: the client's `Host` itself, or a copy of
    /// the authority.
    pub fn to_header_value(&self) -> Option<HeaderValue> {
        self.header.cloned().or_else(|| HeaderValue::from_str(self.text).ok())
    }
}

/// The host a request with `headers` and `uri` is for (see [`RequestHost`]).
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<RequestHost<'a>> {
    if let Some(value) = headers.get(header::HOST)
        && let Ok(text) = value.to_str()
    {
        return Some(RequestHost { text, header: Some(value) });
    }
    uri.authority().map(|authority| RequestHost { text: authority.as_str(), header: None })
}

/// Whether a request is a native gRPC call (`application/grpc`,
/// `application/grpc+proto`...; not gRPC-Web).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|value| {
        let value = value.as_bytes();
        value.starts_with(b"application/grpc") && !value.starts_with(b"application/grpc-web")
    })
}

/// Whether a request is a gRPC-Web call (`application/grpc-web`,
/// `application/grpc-web-text`, with `+proto` or parameters).
pub fn is_grpc_web(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|value| {
        let rest = value.as_bytes().strip_prefix(b"application/grpc-web").unwrap_or(b"x");
        let rest = rest.strip_prefix(b"-text").unwrap_or(rest);
        matches!(rest, [] | [b'+' | b';', ..])
    })
}

/// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Whether a request asks for a WebSocket: `GET` (HTTP/1.1) with
/// `Upgrade: websocket` and `Connection: upgrade`.
pub fn is_websocket_upgrade(head: &Parts) -> bool {
    let upgrade =
        head.headers.get(header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let connection = head.headers.get_all(header::CONNECTION).iter().any(|value| {
        value.to_str().is_ok_and(|v| v.split(',').any(|token| token.trim().eq_ignore_ascii_case("upgrade")))
    });
    head.method == Method::GET && upgrade && connection
}

/// The method a preflight announces.
fn announced_method(headers: &HeaderMap) -> Option<Method> {
    Method::from_bytes(headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?.as_bytes()).ok()
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
