//! Authentication: who is calling, proven by a JWT, an API key or a
//! client certificate (mTLS, verified by the listener).
//!
//! A policy takes the credential from where it is configured (a header, the
//! query string, a cookie), verifies it, and returns a [`Principal`] that
//! later policies (claim-keyed rate limits) and logs use. On the way it
//! cleans the request for the backend: headers the policy sets itself
//! (forwarded claims, the consumer) are removed from what the client sent
//! first, along with their `grpc-metadata-` twins, so they cannot be
//! spoofed; a credential taken from the query string is cut out of the URI.
//!
//! It must not: fetch a key that a token names (`jku`, `x5u`, an embedded
//! `jwk`); accept `alg: none` or an algorithm the policy did not pin; use a
//! key for another family than its own (no HS/RS confusion); log or echo a
//! credential; know which target it guards. Refusals are [`AuthError`]s;
//! `crate::error` turns them into responses (401, 403, 503).
//!
//! The names a policy sets ([`JwtPolicy::forwarded_headers`],
//! [`ApiKeyPolicy::forwarded_headers`]) are plain request headers: the
//! policy pipeline adds them to the transcoder's metadata allow-list so
//! that they also reach gRPC backends.

mod api_key;
mod cache;
mod claims;
mod credential;
mod jwks;
mod jwt;
mod keys;
mod mtls;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use api_key::{ApiKey, ApiKeyPolicy, ApiKeySettings, hash_key, parse_sha256};
pub use credential::CredentialSource;
pub use jwt::{JwksUrl, JwtPolicy, JwtSettings, KeySource};
pub use keys::{KeyError, KeySet};
pub use mtls::{CertificateMatch, MtlsConsumer, MtlsPolicy, MtlsSettings};

/// Who made a request, as an authentication policy proved it.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The JWT's `sub`, when it is a string.
    pub subject: Option<String>,
    /// The API key's consumer.
    pub consumer: Option<String>,
    /// The verified JWT claims (empty for an API key).
    pub claims: Arc<Map<String, Value>>,
}

/// The credential a policy asks for, named in `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// A bearer token (RFC 6750).
    Bearer,
    /// An API key.
    ApiKey,
    /// A client certificate (mTLS).
    ClientCertificate,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential was sent (401).
    #[error("{1}")]
    Missing(Scheme, String),
    /// The credential is malformed, forged, expired or unknown (401).
    #[error("{1}")]
    Invalid(Scheme, String),
    /// The credential is good but lacks a required scope or claim (403).
    #[error("{0}")]
    Forbidden(String),
    /// The keys to check the credential with are not available (503).
    #[error("{0}")]
    Unavailable(String),
}

impl AuthError {
    /// Why, in one word (a metric label): `missing`, `invalid`,
    /// `forbidden` or `unavailable`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing(..) => "missing",
            Self::Invalid(..) => "invalid",
            Self::Forbidden(_) => "forbidden",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

/// A policy that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// The HTTP client for a JWKS URL.
    #[error("cannot build the JWKS client: {0}")]
    Client(String),
    /// An API-key policy without keys.
    #[error("an API-key policy needs at least one key")]
    NoKeys,
    /// A consumer name that cannot be sent in a header.
    #[error("the consumer name {0:?} is not a valid header value")]
    Consumer(String),
    /// A JWT policy without accepted algorithms.
    #[error("a JWT policy needs at least one accepted algorithm")]
    NoAlgorithms,
}
