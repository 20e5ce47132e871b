//! The authentication policies of the config: `jwt` and `api_key` entries of
//! the `policies:` map. Plain shapes; what they mean is checked and resolved
//! when the config is compiled (`compile::jwt_settings`,
//! `compile::api_key_settings`).

use std::{collections::BTreeMap, path::PathBuf};

use serde::Deserialize;

use super::Duration;

/// A JWT policy. Exactly one key source: `jwks`, `public_key`,
/// `public_key_file`, `secret_file` or `secret_env`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The accepted `alg` values (default: every algorithm the keys can
    /// verify: RS*, PS*, ES*, EdDSA for public keys, HS* for a secret).
    pub algorithms: Option<Vec<String>>,
    /// Keys as a JSON Web Key Set, from a URL or a file.
    pub jwks: Option<JwksConfig>,
    /// One public key (RSA, EC or Ed25519), PEM, written in the YAML.
    pub public_key: Option<String>,
    /// One public key (RSA, EC or Ed25519), a PEM file.
    pub public_key_file: Option<PathBuf>,
    /// An HMAC secret (HS256/384/512), a file (one trailing newline ignored).
    pub secret_file: Option<PathBuf>,
    /// An HMAC secret (HS256/384/512), an environment variable.
    pub secret_env: Option<String>,
    /// The required `iss` (default: not checked).
    pub issuer: Option<String>,
    /// The accepted `aud` values; required, `[]` accepts tokens for any audience.
    pub audiences: Option<Vec<String>>,
    /// Clock skew allowed on `exp` and `nbf` (default 60s).
    pub leeway: Option<Duration>,
    /// Refuse tokens without `exp` (default true).
    pub require_exp: Option<bool>,
    /// Scopes the token must all carry (`scope` claim, space-separated, or `scp` array).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claims the token must carry with these values (an array claim must contain it).
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    /// Read the token from this header (default `authorization`, which
    /// expects the `Bearer` scheme; another header holds the bare token).
    /// At most one of `header`, `query` and `cookie`.
    pub header: Option<String>,
    /// Read the token from this query parameter (removed from the request
    /// before it goes on).
    pub query: Option<String>,
    /// Read the token from this cookie.
    pub cookie: Option<String>,
    /// Claim → request header set from the verified token for the backend.
    #[serde(default)]
    pub forward_claims: BTreeMap<String, String>,
    /// Forward the token itself to the backend (default true; a token taken
    /// from the query string is never forwarded).
    pub forward_token: Option<bool>,
    /// The verified-token cache.
    #[serde(default)]
    pub cache: TokenCacheConfig,
}

/// A JSON Web Key Set: exactly one of `url` or `file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwksConfig {
    /// Fetched at start, refreshed periodically and on an unknown `kid`.
    pub url: Option<String>,
    /// Read once, at compile time.
    pub file: Option<PathBuf>,
    /// With `url`: the time between two fetches (default 5m).
    pub refresh: Option<Duration>,
    /// With `url`: the least time between two fetches caused by unknown `kid`s (default 30s).
    pub cooldown: Option<Duration>,
    /// With `url`: the time a fetch may take (default 5s).
    pub timeout: Option<Duration>,
}

/// The verified-token cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCacheConfig {
    /// The most tokens held (default 10000; 0 turns the cache off).
    pub max_entries: Option<u64>,
    /// The longest a token stays cached, whatever its `exp` (default 5m).
    pub max_ttl: Option<Duration>,
}

/// An API-key policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Read the key from this header (default `x-api-key`). At most one of
    /// `header` and `query`.
    pub header: Option<String>,
    /// Read the key from this query parameter (removed from the request
    /// before it goes on).
    pub query: Option<String>,
    /// The accepted keys, as SHA-256 hashes (`protogate hash-key`).
    pub keys: Vec<ApiKeyEntryConfig>,
    /// The request header the consumer's name is sent to the backend in (default: not sent).
    pub consumer_header: Option<String>,
    /// Forward the key itself to the backend (default false).
    #[serde(default)]
    pub forward_key: bool,
}

/// One accepted API key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyEntryConfig {
    /// Who holds it: rate limits and logs use this name.
    pub consumer: String,
    /// The key's SHA-256, 64 hex digits.
    pub sha256: String,
}

/// A client-certificate (mTLS) policy: the certificate was verified in the
/// TLS handshake (`listeners[].tls.client_auth`); this names its consumer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsConfig {
    /// The accepted certificates and their consumers. Default (left out):
    /// every verified certificate, its subject's common name (CN) naming
    /// the consumer.
    pub consumers: Option<Vec<MtlsConsumerConfig>>,
    /// The request header the consumer's name is sent to the backend in (default: not sent).
    pub consumer_header: Option<String>,
}

/// One accepted client certificate: exactly one of `common_name` or `san`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsConsumerConfig {
    /// Who holds it: rate limits and logs use this name.
    pub consumer: String,
    /// The subject's common name (CN) the certificate carries.
    pub common_name: Option<String>,
    /// A subject alternative name the certificate carries (a DNS name, URI,
    /// e-mail address or IP address, written as text).
    pub san: Option<String>,
}
