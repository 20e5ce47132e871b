//! The pass-through target of one route: forward the request to an endpoint
//! of its upstream, stream the answer back, tunnel an upgrade.
//!
//! A request is sent again when the upstream's retry loop allows: after a
//! failure that proves it never reached the backend, or, for GET, HEAD,
//! OPTIONS, PUT and DELETE, after a connection error (or, without a body, a
//! 502, 503 or 504). A streamed body goes again only while no try has read
//! from it (src/proxy/resend.rs); an upgrade never does. All tries share
//! the route's timeout.

use std::{error::Error as _, sync::Arc, time::Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header, request, uri::PathAndQuery};
use http_body::Body;
use http_body_util::BodyExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::{
    HttpClient, PrefixRewrite, ProxyError, ProxySettings,
    headers::{self, Forwarded},
    limit::{self, Overflow},
    report,
    resend::CallBody,
    rewrite, separators,
};
use crate::{
    body::{BoxError, ResponseBody},
    observe::{Phase, RequestContext},
    tls_info::TlsInfo,
    upstream::{
        CallError, Endpoint, Outcome, Tried, TryError, TryFailure, Upstream, is_idempotent_method, never_sent,
    },
};

/// The answers of an endpoint that an idempotent request may retry.
const RETRYABLE: [StatusCode; 3] =
    [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE, StatusCode::GATEWAY_TIMEOUT];

/// One compiled pass-through target.
#[derive(Debug)]
pub struct ProxyTarget {
    settings: ProxySettings,
    upstream: Arc<Upstream>,
    client: HttpClient,
}

impl ProxyTarget {
    /// Wires a target. `client` is the upstream's, shared by its routes.
    pub fn new(settings: ProxySettings, upstream: Arc<Upstream>, client: HttpClient) -> Self {
        Self { settings, upstream, client }
    }

    /// The route's settings.
    pub fn settings(&self) -> &ProxySettings {
        &self.settings
    }

    /// Forwards one request for `host` (its `Host`, or the HTTP/2
    /// authority), with its `context` (the client's address, the request
    /// id; it hears the tries and the end of a tunnel); the bodies stream,
    /// the request's within the route's `max_body_bytes`.
    pub async fn call<B>(
        &self,
        request: Request<B>,
        context: &Arc<RequestContext>,
        host: Option<HeaderValue>,
    ) -> Result<Response<ResponseBody>, ProxyError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.call_within(request, context, host, self.settings.max_body_bytes).await
    }

    /// [`Self::call`] with the request body within `max_body_bytes`
    /// (`None`: any) instead of the route's: a gRPC-Web call's one message
    /// is bounded where the native gRPC calls of its route are not.
    pub async fn call_within<B>(
        &self,
        mut request: Request<B>,
        context: &Arc<RequestContext>,
        host: Option<HeaderValue>,
        max_body_bytes: Option<usize>,
    ) -> Result<Response<ResponseBody>, ProxyError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let upgrade = headers::upgrade_of(request.version(), request.headers());
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();

        let original = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        let rewrite = if self.settings.grpc { &PrefixRewrite::Keep } else { &self.settings.rewrite };
        if !self.settings.grpc
            && let Some(reason) = separators::ambiguity(original.path(), self.settings.allow_encoded_slashes)
        {
            return Err(ProxyError::AmbiguousPath { path: original.path().to_owned(), reason });
        }
        let path = rewrite::upstream_path(&self.settings.prefix, rewrite, &original)?;

        headers::remove_hop_by_hop(&mut parts.headers, upgrade);
        headers::remove_expectation(&mut parts.headers);
        headers::add_forwarded(
            &mut parts.headers,
            Forwarded {
                peer: context.peer().ip(),
                host: host.as_ref(),
                https: TlsInfo::of(&parts.extensions).is_some(),
                via: headers::via(parts.version),
            },
        );
        context.propagate(&mut parts.headers);
        // Without the client's Host, an endpoint resolved from a host name is
        // told the configured host (`Picked::host_header`).
        let preserved = self.settings.preserve_host && host.is_some();
        match (self.settings.preserve_host, host) {
            (true, Some(host)) => parts.headers.insert(header::HOST, host),
            // The client sets the endpoint's authority.
            _ => parts.headers.remove(header::HOST),
        };
        self.settings.request_headers.apply(&mut parts.headers);
        // hyper speaks the upstream's version; the request only says "not HTTP/1.0".
        let client_version = std::mem::replace(&mut parts.version, Version::HTTP_11);

        let idempotent = is_idempotent_method(&parts.method);
        let replayable = client_upgrade.is_none();
        let body = body.map_err(Into::into);
        let (body, overflow) = match max_body_bytes {
            Some(limit) => {
                if declared_length(&parts.headers).is_some_and(|length| length > limit as u64) {
                    return Err(ProxyError::PayloadTooLarge { limit });
                }
                let (body, overflow) = limit::bounded(body, limit);
                (body, Some((overflow, limit)))
            }
            None => (body.boxed_unsync(), None),
        };
        let mut body = CallBody::new(body, !replayable);
        let bodyless = body.is_empty();
        let mut parts = Some(parts);
        let deadline = Instant::now() + self.settings.timeout;
        let answered = self
            .upstream
            .call_with_retries(idempotent, deadline, context.clone(), |picked, attempt| {
                // The request is kept (the head copied, the body lent) only
                // while another try may follow.
                let keep = replayable && !attempt.last;
                let head = match (&parts, keep) {
                    (Some(parts), true) => Some(copy_head(parts)),
                    _ => parts.take(),
                };
                let request = head.zip(body.for_try(keep));
                let sent = request
                    .ok_or_else(|| ProxyError::Internal("a request sent after its last try".into()))
                    .and_then(|(mut head, (body, resend))| {
                        head.uri = upstream_uri(picked.connect_uri(), path.clone())?;
                        if !preserved && let Some(host) = picked.host_header() {
                            head.headers.insert(header::HOST, host.clone());
                        }
                        Ok((self.client.request(Request::from_parts(head, body), self.settings.grpc), resend))
                    });
                let endpoint = picked.endpoint().clone();
                let overflow = overflow.clone();
                async move {
                    let (sent, resend) = match sent {
                        Ok(sent) => sent,
                        Err(error) => {
                            return Tried::Failed(TryError {
                                error,
                                outcome: Outcome::Ignored,
                                retry: TryFailure::Final,
                            });
                        }
                    };
                    match tokio::time::timeout_at(deadline.into(), sent).await {
                        Ok(Ok(response)) if bodyless && RETRYABLE.contains(&response.status()) => {
                            let error = self.bad_gateway(format!("it answered {}", response.status()));
                            Tried::FailedAnswer { answer: response, error }
                        }
                        Ok(Ok(response)) => Tried::Answer(response),
                        Ok(Err(error)) => {
                            let mut failed = self.failed(&endpoint, &error, overflow.as_ref());
                            // A streamed body read by this try cannot go again.
                            if !resend.is_possible() {
                                failed.retry = TryFailure::Final;
                            }
                            Tried::Failed(failed)
                        }
                        Err(_) => Tried::Failed(TryError {
                            error: self.timed_out(),
                            outcome: Outcome::Failure,
                            retry: TryFailure::Final,
                        }),
                    }
                }
            })
            .await;
        let (mut response, mut picked) = match answered {
            Ok(answered) => answered,
            Err(CallError::Failed(error)) => return Err(error),
            Err(CallError::Unavailable(unavailable)) => return Err(unavailable.into()),
            Err(CallError::Expired) => return Err(self.timed_out()),
        };

        let status = response.status();
        let switched = status == StatusCode::SWITCHING_PROTOCOLS;
        let mut upgrade_back = None;
        if switched {
            let Some(client_upgrade) = client_upgrade else {
                picked.finish(Outcome::Failure);
                return Err(self.bad_gateway("it switched protocols unasked".to_owned()));
            };
            tokio::spawn(tunnel(client_upgrade, hyper::upgrade::on(&mut response), context.clone()));
            upgrade_back = response.headers().get(header::UPGRADE).cloned();
        }
        let failures = self.upstream.failure_codes();
        let outcome = report::head_outcome(status, response.headers(), failures);
        // A trailers-only answer's status is in its head.
        if let Some(code) = report::grpc_status(response.headers()) {
            picked.ended_with(code);
        }
        let via = headers::via(response.version());
        let headers = response.headers_mut();
        headers::remove_hop_by_hop(headers, upgrade_back);
        headers.append(header::VIA, via);
        self.settings.response_headers.apply(headers);
        // The client's side keeps the client's version: an HTTP/1.0 upstream
        // must not turn an HTTP/1.1 client's keep-alive connection into one
        // that closes after every response.
        *response.version_mut() = client_version;
        let response = response.map(|body| body.map_err(BoxError::from).boxed_unsync());
        if switched {
            // The tunnel's bytes say nothing more about the endpoint.
            picked.finish(Outcome::Success);
            return Ok(response);
        }
        Ok(response.map(|body| report::reporting(body, picked, outcome, failures)))
    }

    /// A failed exchange with `endpoint`: what it says about the endpoint,
    /// whether it may be retried, and what the client is told. A connection
    /// that could not be opened is logged and told by the retry loop
    /// (`Picked::unreachable`), with this error as its cause.
    /// A body that went over its limit (`overflow`) is the client's fault
    /// whatever the error says: 413 RESOURCE_EXHAUSTED.
    fn failed(
        &self,
        endpoint: &Endpoint,
        error: &hyper_util::client::legacy::Error,
        overflow: Option<&(Overflow, usize)>,
    ) -> TryError<ProxyError> {
        if let Some(&(ref overflow, limit)) = overflow
            && overflow.happened()
        {
            let error = ProxyError::PayloadTooLarge { limit };
            return TryError { error, outcome: Outcome::Ignored, retry: TryFailure::Final };
        }
        if error.is_connect() {
            let error = self.bad_gateway(chain(error));
            return TryError { error, outcome: Outcome::ConnectFailure, retry: TryFailure::NotSent };
        }
        tracing::warn!(
            upstream = %self.upstream.name(),
            endpoint = %endpoint.uri(),
            address = %endpoint.address(),
            error = %chain(error),
            "pass-through call failed"
        );
        let client_body = std::iter::successors(error.source(), |e| (*e).source())
            .find_map(|e| e.downcast_ref::<hyper::Error>())
            .is_some_and(hyper::Error::is_user);
        if client_body {
            // The client's body failed: it says nothing of the endpoint.
            let error = ProxyError::RequestBody(chain(error));
            return TryError { error, outcome: Outcome::Ignored, retry: TryFailure::Final };
        }
        let retry = TryFailure::of(Outcome::Failure, never_sent(error));
        TryError { error: self.bad_gateway(chain(error)), outcome: Outcome::Failure, retry }
    }

    fn timed_out(&self) -> ProxyError {
        ProxyError::Timeout { upstream: self.upstream.name().to_owned(), timeout: self.settings.timeout }
    }

    fn bad_gateway(&self, reason: String) -> ProxyError {
        ProxyError::BadGateway { upstream: self.upstream.name().to_owned(), reason }
    }
}

/// A copy of a request head for another try: method, URI, version and
/// headers (not the extensions, which a body-less request does not need).
fn copy_head(parts: &request::Parts) -> request::Parts {
    let mut copy = Request::new(()).into_parts().0;
    copy.method = parts.method.clone();
    copy.uri = parts.uri.clone();
    copy.version = parts.version;
    copy.headers = parts.headers.clone();
    copy
}

/// The length a request's `Content-Length` declares, if it parses.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The endpoint's scheme and authority with the forwarded path.
fn upstream_uri(endpoint: &Uri, path: PathAndQuery) -> Result<Uri, ProxyError> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = endpoint.scheme().cloned();
    parts.authority = endpoint.authority().cloned();
    parts.path_and_query = Some(path);
    Uri::from_parts(parts).map_err(|e| ProxyError::Internal(format!("cannot build the upstream URI: {e}")))
}

/// Copies bytes both ways between the upgraded connections until either
/// side closes, then tells `context` the stream ended.
async fn tunnel(client: OnUpgrade, upstream: OnUpgrade, context: Arc<RequestContext>) {
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(%error, "upgraded connection ended with an error");
            }
        }
        Err(error) => tracing::debug!(%error, "upgrade failed"),
    }
    context.observe(Phase::StreamEnded);
}

/// An error and its causes, `: `-separated (hyper-util's own message is terse).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    for cause in std::iter::successors(error.source(), |e| (*e).source()) {
        text.push_str(": ");
        text.push_str(&cause.to_string());
    }
    text
}
