//! One endpoint's gRPC channel: its HTTP/2 connection, called directly.
//!
//! [`GrpcChannel`] is an endpoint's channel: it opens the connection
//! ([`open`]) when a call finds none open (the first call, or the first
//! after the last one closed or broke). [`GrpcChannel::connection`] gives
//! the open connection as a [`GrpcConnection`], a `tower::Service` over a
//! clone of hyper's HTTP/2 `SendRequest`, which tonic's `Grpc` client
//! calls (as do health checks and reflection, per check): no buffer task
//! between the request and the connection, and the current connection is
//! found without a lock (arc-swap). Concurrent calls that find none open
//! wait for the one opening, and a failure to open fails all of them at
//! once with tonic's `ConnectError` (UNAVAILABLE, a connect failure for the
//! upstream), without a try of their own.
//!
//! Each request names the endpoint's origin (`:scheme` and `:authority`:
//! the configured URI, with its host name when it has one).

mod open;

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use arc_swap::ArcSwapOption;
use http::{
    HeaderValue, Uri,
    header::USER_AGENT,
    uri::{Authority, Scheme},
};
use hyper::{body::Incoming, client::conn::http2::SendRequest};
use tonic::body::Body;

use crate::body::BoxError;
pub(super) use open::{ConnectTo, offering_h2};

/// What a call's future gives.
type Answer = Result<http::Response<Incoming>, BoxError>;

/// The user agent the gateway names on its calls, unless forwarded.
const GATEWAY_USER_AGENT: &str = concat!("protogate/", env!("CARGO_PKG_VERSION"));

/// An endpoint's gRPC channel; clones share its connection.
#[derive(Debug, Clone)]
pub struct GrpcChannel {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    connect: ConnectTo,
    scheme: Scheme,
    authority: Authority,
    /// The open connection, if any (it may have closed since).
    current: ArcSwapOption<SendRequest<Body>>,
    /// Held while a connection is opened; keeps why the last try failed.
    opening: tokio::sync::Mutex<Option<String>>,
    /// Tries to open a connection that failed, ever.
    failed_opens: AtomicU64,
}

impl GrpcChannel {
    /// The channel to `origin`'s endpoint, connected as `connect` says on
    /// first use.
    pub(super) fn new(origin: &Uri, connect: ConnectTo) -> Self {
        let scheme = origin.scheme().cloned().unwrap_or(Scheme::HTTP);
        let authority = match origin.authority() {
            Some(authority) => authority.clone(),
            None => Authority::from_static("localhost"),
        };
        let shared = Shared {
            connect,
            scheme,
            authority,
            current: ArcSwapOption::empty(),
            opening: tokio::sync::Mutex::new(None),
            failed_opens: AtomicU64::new(0),
        };
        Self { shared: Arc::new(shared) }
    }

    /// The open connection, opened first if none is; the error is tonic's
    /// `ConnectError`.
    pub async fn connection(&self) -> Result<GrpcConnection, BoxError> {
        let sender = self.shared.sender().await?;
        Ok(GrpcConnection { shared: self.shared.clone(), sender })
    }
}

/// An open connection of a [`GrpcChannel`], ready to take calls.
#[derive(Debug)]
pub struct GrpcConnection {
    shared: Arc<Shared>,
    sender: SendRequest<Body>,
}

impl Shared {
    /// The open connection's sender, if one is open.
    fn open_sender(&self) -> Option<SendRequest<Body>> {
        self.current.load().as_deref().filter(|sender| !sender.is_closed()).cloned()
    }

    /// The open connection's sender, the connection opened first if none is.
    async fn sender(&self) -> Result<SendRequest<Body>, BoxError> {
        match self.open_sender() {
            Some(sender) => Ok(sender),
            // Boxed: opening (TCP, TLS, the handshake) takes large futures
            // that a call on an open connection should not carry.
            None => Box::pin(self.open_or_wait()).await,
        }
    }

    /// Opens the connection, or waits for the call opening it.
    async fn open_or_wait(&self) -> Result<SendRequest<Body>, BoxError> {
        let failures_before = self.failed_opens.load(Ordering::Acquire);
        let mut last_failure = self.opening.lock().await;
        if let Some(sender) = self.open_sender() {
            return Ok(sender);
        }
        // The try that held the lock while this call waited failed: so does this call.
        if self.failed_opens.load(Ordering::Acquire) != failures_before {
            let reason = last_failure.clone().unwrap_or_default();
            return Err(Box::new(tonic::ConnectError(reason.into())));
        }
        match self.connect.open().await {
            Ok(sender) => {
                self.current.store(Some(Arc::new(sender.clone())));
                Ok(sender)
            }
            Err(error) => {
                *last_failure = Some(error.to_string());
                self.failed_opens.fetch_add(1, Ordering::Release);
                Err(Box::new(tonic::ConnectError(Box::new(error))))
            }
        }
    }

    /// `request` with the endpoint's origin and, unless it has one, the
    /// gateway's user agent.
    fn addressed(&self, mut request: http::Request<Body>) -> Result<http::Request<Body>, http::Error> {
        let mut uri = std::mem::take(request.uri_mut()).into_parts();
        uri.scheme = Some(self.scheme.clone());
        uri.authority = Some(self.authority.clone());
        *request.uri_mut() = Uri::from_parts(uri)?;
        if !request.headers().contains_key(USER_AGENT) {
            // A header map at its capacity stays without one.
            let _ =
                request.headers_mut().try_insert(USER_AGENT, HeaderValue::from_static(GATEWAY_USER_AGENT));
        }
        Ok(request)
    }
}

impl tower::Service<http::Request<Body>> for GrpcConnection {
    type Response = http::Response<Incoming>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    /// Ready: HTTP/2 takes the stream or refuses it when sent.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let sent = self.shared.addressed(request).map(|request| self.sender.send_request(request));
        Box::pin(async move { Ok(sent?.await?) })
    }
}
