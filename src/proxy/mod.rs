//! HTTP pass-through: the target of a prefix route (and of native gRPC
//! calls, and of gRPC-Web ones translated by [`grpc_web`]), forwarding the request to an upstream endpoint and the answer back.
//!
//! It does the work of a reverse proxy: the path rewritten by the route's
//! prefix rule, hop-by-hop headers removed in both directions,
//! `X-Forwarded-*` and `Via` set, the route's header rules applied, bodies
//! streamed frame by frame both ways (never collected), HTTP/1.1 upgrades
//! (WebSocket) tunnelled, and the outcome of every call reported to the
//! upstream with [`crate::upstream::Picked::finish`].
//!
//! It must not: choose an endpoint (the [`crate::upstream`] room does),
//! decide on retries by itself (it makes one try at a time for
//! [`crate::upstream::Upstream::call_with_retries`] and says what its
//! failure proves; it resends a streamed body only while unread), buffer a
//! body whole, know the router or the server, or render its own errors: a
//! [`ProxyError`] becomes a response in [`crate::error`] only.

mod client;
pub mod grpc_web;
mod headers;
mod limit;
mod report;
mod resend;
mod rewrite;
mod separators;
mod target;

use std::time::Duration;

pub use client::{ClientSettings, HttpClient};
pub use headers::{HeaderRules, is_hop_by_hop};
pub use rewrite::PrefixRewrite;
pub use target::ProxyTarget;

pub use crate::upstream::{ClientIdentity, TlsSettings};
use crate::upstream::{TryStatus, Unavailable, Unreachable};

/// How one pass-through route forwards, compiled from its config.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// The route's path prefix, e.g. `/legacy/`.
    pub prefix: String,
    /// What becomes of the prefix in the upstream path.
    pub rewrite: PrefixRewrite,
    /// Header rules for the request, applied after the proxy's own headers.
    pub request_headers: HeaderRules,
    /// Header rules for the response, applied last.
    pub response_headers: HeaderRules,
    /// The deadline for the upstream's response head (a 504 when it passes);
    /// the body then streams without one.
    pub timeout: Duration,
    /// Send the client's `Host` upstream instead of the endpoint's authority.
    pub preserve_host: bool,
    /// Native gRPC pass-through: HTTP/2 with prior knowledge to the endpoint,
    /// the path forwarded as-is (`rewrite` is not applied), `te: trailers`
    /// and trailers kept, failures read from `grpc-status`.
    pub grpc: bool,
    /// Forward paths with `%2F` (never beside a dot segment); by default
    /// they are refused, as a backend decoding them could reach another
    /// route's paths.
    pub allow_encoded_slashes: bool,
    /// The largest request body forwarded (`None`: any, as for native
    /// gRPC, whose streams are bounded per message, not in all): a
    /// `Content-Length` over it is refused before forwarding, a body that
    /// grows past it aborts the upstream request; 413 either way.
    pub max_body_bytes: Option<usize>,
}

impl ProxySettings {
    /// Forward every path as it is, with no header rules: native gRPC
    /// pass-through (`grpc`), or a whole upstream behind one route.
    pub fn whole(timeout: Duration, grpc: bool) -> Self {
        Self {
            prefix: "/".into(),
            rewrite: PrefixRewrite::Keep,
            request_headers: HeaderRules::default(),
            response_headers: HeaderRules::default(),
            timeout,
            preserve_host: false,
            grpc,
            allow_encoded_slashes: false,
            max_body_bytes: None,
        }
    }
}

/// Why a pass-through call failed, or why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No endpoint can take the call (none healthy, breaker open).
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The connection to the endpoint could not be opened.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// The response head did not arrive in time.
    #[error("upstream {upstream:?} did not answer within {timeout:?}")]
    Timeout {
        /// The upstream's name.
        upstream: String,
        /// The route's timeout.
        timeout: Duration,
    },
    /// The upstream broke the exchange (reset, protocol error, a 101 nobody asked for).
    #[error("upstream {upstream:?} failed: {reason}")]
    BadGateway {
        /// The upstream's name.
        upstream: String,
        /// What went wrong.
        reason: String,
    },
    /// The request body is larger than the route allows.
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The client's request body failed while it was being forwarded.
    #[error("cannot read the request body: {0}")]
    RequestBody(String),
    /// A path the proxy refuses to forward.
    #[error("the path {0:?} has `.` or `..` segments")]
    DotSegments(String),
    /// A path a backend could read as another one.
    #[error("the path {path:?} is refused: it has {reason}, which a backend may read as another path")]
    AmbiguousPath {
        /// The path.
        path: String,
        /// What makes it ambiguous.
        reason: &'static str,
    },
    /// `tls.server_name` is not a DNS name or an IP address.
    #[error("{0:?} is not a valid server name")]
    ServerName(String),
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::upstream::TlsConfigError),
    /// The gateway built an invalid request (a bug).
    #[error("{0}")]
    Internal(String),
}

/// A failed pass-through try carries no gRPC status of its own: a native
/// gRPC answer's status is read from the answer ([`report`]).
impl TryStatus for ProxyError {
    fn try_status(&self) -> Option<tonic::Code> {
        None
    }
}
