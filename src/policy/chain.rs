//! The policy chain of one route, and the request phase it runs, in the
//! fixed order: CORS headers, rate limits keyed on the request (IP, header,
//! route), authentication, rate limits keyed on who authenticated
//! (consumer, claim).

use std::{net::IpAddr, sync::Arc};

use http::{HeaderMap, HeaderName, request::Parts};

use super::{
    auth::{ApiKeyPolicy, AuthError, JwtPolicy, MtlsPolicy, Principal},
    cors::CorsPolicy,
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

/// The compiled policies of one route, in the order they run.
#[derive(Debug, Clone, Default)]
pub struct PolicyChain {
    /// The route's name in the config, for limits keyed on the route.
    pub route: Arc<str>,
    /// Which browser origins may call the route.
    pub cors: Option<Arc<CorsPolicy>>,
    /// Rate limits keyed on the request: client IP, a header, the route.
    pub request_limits: Vec<Arc<RateLimitPolicy>>,
    /// Alternatives: the first whose credential the request carries decides.
    pub authenticators: Vec<Authenticator>,
    /// Rate limits keyed on who authenticated: the consumer, a claim.
    pub principal_limits: Vec<Arc<RateLimitPolicy>>,
}

/// A request the chain let through: headers for its response.
#[derive(Debug, Default)]
pub struct Admission {
    /// Added to the target's response (CORS, rate-limit headers).
    pub response_headers: HeaderMap,
}

impl PolicyChain {
    /// The route's CORS policy, which answers its preflights.
    pub fn cors(&self) -> Option<&CorsPolicy> {
        self.cors.as_deref()
    }

    /// Every header the chain's authenticators set on requests.
    pub fn forwarded_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.authenticators.iter().flat_map(Authenticator::forwarded_headers)
    }

    /// Runs the request phase for a client at `peer`: the request is let
    /// through with headers for its response, or refused (the refusal
    /// carries those headers too).
    pub async fn admit(&self, parts: &mut Parts, peer: IpAddr) -> Result<Admission, Box<GatewayError>> {
        let mut headers = HeaderMap::new();
        if let Some(cors) = &self.cors {
            cors.decorate(&parts.headers, &mut headers);
        }
        let mut tightest = None;
        self.limit(&self.request_limits, parts, peer, KeyContext::default(), &mut tightest, &headers).await?;
        if !self.authenticators.is_empty() {
            let principal = match self.authenticate(parts).await {
                Ok(principal) => principal,
                Err(refusal) => {
                    return Err(refused(GatewayError::from(refusal), &headers, tightest.as_ref()));
                }
            };
            let context = KeyContext {
                consumer: principal.consumer.as_deref(),
                claims: Some(&principal.claims),
                ..KeyContext::default()
            };
            self.limit(&self.principal_limits, parts, peer, context, &mut tightest, &headers).await?;
        }
        if let Some(decision) = &tightest {
            headers.extend(decision.headers());
        }
        Ok(Admission { response_headers: headers })
    }

    /// The first authenticator whose credential the request carries decides;
    /// with none present, the first one's refusal says what to send.
    async fn authenticate(&self, parts: &mut Parts) -> Result<Principal, AuthError> {
        let mut missing = None;
        for authenticator in &self.authenticators {
            match authenticator.authenticate(parts).await {
                Err(error @ AuthError::Missing(..)) => {
                    missing.get_or_insert(error);
                }
                decided => return decided,
            }
        }
        Err(missing
            .unwrap_or_else(|| AuthError::Invalid(super::auth::Scheme::Bearer, "no credential".into())))
    }

    /// Checks `limits`, keeping the decision with the least left in `tightest`.
    async fn limit(
        &self,
        limits: &[Arc<RateLimitPolicy>],
        parts: &Parts,
        peer: IpAddr,
        context: KeyContext<'_>,
        tightest: &mut Option<Decision>,
        headers: &HeaderMap,
    ) -> Result<(), Box<GatewayError>> {
        let client_certificate = TlsInfo::client_of(&parts.extensions).and_then(|client| client.identity());
        let context = KeyContext { client_certificate, ..context };
        for limit in limits {
            let key = limit.key_of(&parts.headers, peer, context, &self.route);
            let decision = limit.check(&key).await;
            if !decision.allowed {
                return Err(refused(GatewayError::rate_limited(&decision), headers, None));
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
