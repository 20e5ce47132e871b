//! The policy chain of one route, and the request phase it runs, in the
//! fixed order: CORS headers, rate limits keyed on the request (IP, header,
//! route), authentication, rate limits keyed on who authenticated
//! (consumer, claim), then the route's in-flight limit (last, so that
//! requests the policies refuse never take a place, and its refusal
//! carries the CORS headers a page needs to read it). What each named policy decided is told to a
//! [`PolicyListener`] (the request's context), which the chain does not
//! know beyond it.

use std::{net::IpAddr, sync::Arc};

use http::{HeaderMap, HeaderName, request::Parts};

use super::{
    auth::{ApiKeyPolicy, AuthError, JwtPolicy, MtlsPolicy, Principal},
    cors::CorsPolicy,
    in_flight::{InFlightLimit, InFlightPermit},
    rate_limit::{Decision, KeyContext, RateLimitPolicy},
};
use crate::{error::GatewayError, tls_info::TlsInfo};

/// One way a route lets callers prove who they are.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// A bearer JWT.
    Jwt(Arc<JwtPolicy>),
    /// An API key.
    ApiKey(Arc<ApiKeyPolicy>),
    /// A client certificate (mTLS).
    Mtls(Arc<MtlsPolicy>),
}

impl Authenticator {
    async fn authenticate(&self, parts: &mut Parts) -> Result<Principal, AuthError> {
        match self {
            Self::Jwt(jwt) => jwt.authenticate(parts).await,
            Self::ApiKey(key) => key.authenticate(parts),
            Self::Mtls(mtls) => mtls.authenticate(parts),
        }
    }

    /// The headers it sets on the request (forwarded claims, the consumer).
    pub fn forwarded_headers(&self) -> &[HeaderName] {
        match self {
            Self::Jwt(jwt) => jwt.forwarded_headers(),
            Self::ApiKey(key) => key.forwarded_headers(),
            Self::Mtls(mtls) => mtls.forwarded_headers(),
        }
    }
}

/// A policy with the name the config gives it.
#[derive(Debug, Clone)]
pub struct Named<T> {
    /// Its name under `policies:`.
    pub name: Arc<str>,
    /// The policy.
    pub policy: T,
}

/// Hears what the chain's named policies decided for one request.
pub trait PolicyListener: Send + Sync {
    /// Rate limit `policy` let the request through (`allowed`) or refused it.
    fn rate_limit_decided(&self, policy: &Arc<str>, allowed: bool);
    /// `policy` authenticated the request as `principal`.
    fn authenticated(&self, policy: &Arc<str>, principal: &Principal);
    /// `policy` refused the request's credential, for `reason`
    /// ([`AuthError::reason`]).
    fn authentication_failed(&self, policy: &Arc<str>, reason: &'static str);
    /// The route had `max` requests in flight already: this one is refused.
    fn in_flight_refused(&self, max: usize);
}

/// The compiled policies of one route, in the order they run.
#[derive(Debug, Clone, Default)]
pub struct PolicyChain {
    /// The route's name in the config, for limits keyed on the route.
    pub route: Arc<str>,
    /// Which browser origins may call the route.
    pub cors: Option<Arc<CorsPolicy>>,
    /// Rate limits keyed on the request: client IP, a header, the route.
    pub request_limits: Vec<Named<Arc<RateLimitPolicy>>>,
    /// Alternatives: the first whose credential the request carries decides.
    pub authenticators: Vec<Named<Authenticator>>,
    /// Rate limits keyed on who authenticated: the consumer, a claim.
    pub principal_limits: Vec<Named<Arc<RateLimitPolicy>>>,
    /// The config names of its policies, defaults first (for the admin API).
    pub names: Vec<String>,
    /// The most requests in flight on the route at once.
    pub in_flight: Option<Arc<InFlightLimit>>,
}

/// A request the chain let through: headers for its response, and its
/// place among the route's requests in flight.
#[derive(Debug, Default)]
pub struct Admission {
    /// Added to the target's response (CORS, rate-limit headers).
    pub response_headers: HeaderMap,
    /// Held until the response body ends or is dropped.
    pub permit: Option<InFlightPermit>,
}

impl PolicyChain {
    /// The route's CORS policy, which answers its preflights.
    pub fn cors(&self) -> Option<&CorsPolicy> {
        self.cors.as_deref()
    }

    /// Every header the chain's authenticators set on requests.
    pub fn forwarded_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.authenticators.iter().flat_map(|named| named.policy.forwarded_headers())
    }

    /// Runs the request phase for a client at `peer`: the request is let
    /// through with headers for its response, or refused (the refusal
    /// carries those headers too). `listener` hears each named policy's
    /// decision.
    pub async fn admit(
        &self,
        parts: &mut Parts,
        peer: IpAddr,
        listener: &dyn PolicyListener,
    ) -> Result<Admission, Box<GatewayError>> {
        let mut headers = HeaderMap::new();
        if let Some(cors) = &self.cors {
            cors.decorate(&parts.headers, &mut headers);
        }
        let mut tightest = None;
        let limits = Limits { parts, peer, listener, headers: &headers };
        limits.check(&self.request_limits, &self.route, KeyContext::default(), &mut tightest).await?;
        if !self.authenticators.is_empty() {
            let principal = match self.authenticate(parts).await {
                Ok((name, principal)) => {
                    listener.authenticated(name, &principal);
                    principal
                }
                Err((name, refusal)) => {
                    if let Some(name) = name {
                        listener.authentication_failed(name, refusal.reason());
                    }
                    return Err(refused(GatewayError::from(refusal), &headers, tightest.as_ref()));
                }
            };
            let context = KeyContext {
                consumer: principal.consumer.as_deref(),
                claims: Some(&principal.claims),
                ..KeyContext::default()
            };
            let limits = Limits { parts, peer, listener, headers: &headers };
            limits.check(&self.principal_limits, &self.route, context, &mut tightest).await?;
        }
        let permit = match self.in_flight.as_ref().map(|limit| limit.admit()) {
            None => None,
            Some(Ok(permit)) => Some(permit),
            Some(Err(overloaded)) => {
                listener.in_flight_refused(overloaded.max);
                let error = GatewayError::overloaded(overloaded.max);
                return Err(refused(error, &headers, tightest.as_ref()));
            }
        };
        if let Some(decision) = &tightest {
            headers.extend(decision.headers());
        }
        Ok(Admission { response_headers: headers, permit })
    }

    /// The first authenticator whose credential the request carries decides;
    /// with none present, the first one's refusal says what to send. Either
    /// comes with the name of the policy that decided.
    async fn authenticate(
        &self,
        parts: &mut Parts,
    ) -> Result<(&Arc<str>, Principal), (Option<&Arc<str>>, AuthError)> {
        let mut missing = None;
        for named in &self.authenticators {
            match named.policy.authenticate(parts).await {
                Err(error @ AuthError::Missing(..)) => {
                    missing.get_or_insert((Some(&named.name), error));
                }
                Ok(principal) => return Ok((&named.name, principal)),
                Err(error) => return Err((Some(&named.name), error)),
            }
        }
        Err(missing.unwrap_or_else(|| {
            (None, AuthError::Invalid(super::auth::Scheme::Bearer, "no credential".into()))
        }))
    }
}

/// What the rate limits of one request read.
struct Limits<'a> {
    parts: &'a Parts,
    peer: IpAddr,
    listener: &'a dyn PolicyListener,
    /// The chain's response headers so far.
    headers: &'a HeaderMap,
}

impl Limits<'_> {
    /// Checks `limits` of the route `route`, keeping the decision with the
    /// least left in `tightest`.
    async fn check(
        &self,
        limits: &[Named<Arc<RateLimitPolicy>>],
        route: &str,
        context: KeyContext<'_>,
        tightest: &mut Option<Decision>,
    ) -> Result<(), Box<GatewayError>> {
        let parts = self.parts;
        let client_certificate = TlsInfo::client_of(&parts.extensions).and_then(|client| client.identity());
        let context = KeyContext { client_certificate, ..context };
        for Named { name, policy: limit } in limits {
            let key = limit.key_of(&parts.headers, self.peer, context, route);
            let decision = limit.check(&key).await;
            self.listener.rate_limit_decided(name, decision.allowed);
            if !decision.allowed {
                return Err(refused(GatewayError::rate_limited(&decision), self.headers, None));
            }
            if tightest.as_ref().is_none_or(|kept| decision.remaining < kept.remaining) {
                *tightest = Some(decision);
            }
        }
        Ok(())
    }
}

/// A refusal carrying the chain's response headers so far.
fn refused(error: GatewayError, headers: &HeaderMap, decision: Option<&Decision>) -> Box<GatewayError> {
    let mut more = headers.clone();
    if let Some(decision) = decision {
        more.extend(decision.headers());
    }
    Box::new(error.with_headers(more))
}
