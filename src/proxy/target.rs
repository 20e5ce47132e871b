//! The pass-through target of one route: forward the request to an endpoint
//! of its upstream, stream the answer back, tunnel an upgrade.

use std::{error::Error as _, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header, uri::PathAndQuery};
use http_body::Body;
use http_body_util::BodyExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::{
    HttpClient, PrefixRewrite, ProxyError, ProxySettings,
    headers::{self, Forwarded},
    report, rewrite,
};
use crate::{
    body::{BoxError, ResponseBody},
    upstream::{Outcome, Picked, Upstream},
};

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

    /// Forwards one request from a client at `peer`; the bodies stream.
    pub async fn call<B>(
        &self,
        mut request: Request<B>,
        peer: SocketAddr,
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
        let path = rewrite::upstream_path(&self.settings.prefix, rewrite, &original)?;

        let host = parts
            .headers
            .get(header::HOST)
            .cloned()
            .or_else(|| parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()));
        headers::remove_hop_by_hop(&mut parts.headers, upgrade);
        headers::add_forwarded(
            &mut parts.headers,
            Forwarded { peer: peer.ip(), host: host.as_ref(), via: headers::via(parts.version) },
        );
        let picked = self.upstream.pick()?;
        // An endpoint resolved from a host name is reached at its address
        // (the URI's authority, so hyper-util pools connections per
        // address) and told the configured host in `Host`.
        let endpoint_host = picked.authority().map(|authority| HeaderValue::from_str(authority.as_str()));
        match (self.settings.preserve_host, host, endpoint_host) {
            (true, Some(host), _) => parts.headers.insert(header::HOST, host),
            (_, _, Some(Ok(endpoint_host))) => parts.headers.insert(header::HOST, endpoint_host),
            (_, _, Some(Err(error))) => {
                return Err(ProxyError::Internal(format!("cannot name the endpoint's host: {error}")));
            }
            // The client sets the endpoint's authority.
            _ => parts.headers.remove(header::HOST),
        };
        self.settings.request_headers.apply(&mut parts.headers);
        // hyper speaks the upstream's version; the request only says "not HTTP/1.0".
        parts.version = Version::HTTP_11;

        parts.uri = upstream_uri(picked.connect_uri(), path)?;
        let request = Request::from_parts(parts, body.map_err(Into::into).boxed_unsync());
        let sent =
            tokio::time::timeout(self.settings.timeout, self.client.request(request, self.settings.grpc))
                .await;
        let mut response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Err(self.failed(picked, &error)),
            Err(_) => {
                picked.finish(Outcome::Failure);
                return Err(ProxyError::Timeout {
                    upstream: self.upstream.name().to_owned(),
                    timeout: self.settings.timeout,
                });
            }
        };

        let status = response.status();
        let switched = status == StatusCode::SWITCHING_PROTOCOLS;
        let mut upgrade_back = None;
        if switched {
            let Some(client_upgrade) = client_upgrade else {
                picked.finish(Outcome::Failure);
                return Err(self.bad_gateway("it switched protocols unasked".to_owned()));
            };
            tokio::spawn(tunnel(client_upgrade, hyper::upgrade::on(&mut response)));
            upgrade_back = response.headers().get(header::UPGRADE).cloned();
        }
        let outcome = report::head_outcome(status, response.headers());
        let via = headers::via(response.version());
        let headers = response.headers_mut();
        headers::remove_hop_by_hop(headers, upgrade_back);
        headers.append(header::VIA, via);
        self.settings.response_headers.apply(headers);
        let response = response.map(|body| body.map_err(BoxError::from).boxed_unsync());
        if switched {
            // The tunnel's bytes say nothing more about the endpoint.
            picked.finish(Outcome::Success);
            return Ok(response);
        }
        Ok(response.map(|body| report::reporting(body, picked, outcome)))
    }

    /// Reports a failed exchange and says what the client is told.
    fn failed(&self, picked: Picked, error: &hyper_util::client::legacy::Error) -> ProxyError {
        let upstream = self.upstream.name().to_owned();
        tracing::warn!(
            %upstream,
            endpoint = %picked.uri(),
            address = %picked.address(),
            error = %chain(error),
            "pass-through call failed"
        );
        if error.is_connect() {
            picked.finish(Outcome::ConnectFailure);
            return ProxyError::Unreachable { upstream };
        }
        let client_body = std::iter::successors(error.source(), |e| (*e).source())
            .find_map(|e| e.downcast_ref::<hyper::Error>())
            .is_some_and(hyper::Error::is_user);
        if client_body {
            // The client's body failed: it says nothing of the endpoint.
            picked.finish(Outcome::Ignored);
            return ProxyError::RequestBody(chain(error));
        }
        picked.finish(Outcome::Failure);
        self.bad_gateway(chain(error))
    }

    fn bad_gateway(&self, reason: String) -> ProxyError {
        ProxyError::BadGateway { upstream: self.upstream.name().to_owned(), reason }
    }
}

/// The endpoint's scheme and authority with the forwarded path.
fn upstream_uri(endpoint: &Uri, path: PathAndQuery) -> Result<Uri, ProxyError> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = endpoint.scheme().cloned();
    parts.authority = endpoint.authority().cloned();
    parts.path_and_query = Some(path);
    Uri::from_parts(parts).map_err(|e| ProxyError::Internal(format!("cannot build the upstream URI: {e}")))
}

/// Copies bytes both ways between the upgraded connections until either side closes.
async fn tunnel(client: OnUpgrade, upstream: OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%error, "upgrade failed");
            return;
        }
    };
    let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(%error, "upgraded connection ended with an error");
    }
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
