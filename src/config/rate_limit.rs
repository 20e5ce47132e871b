//! A rate-limit policy as written in the config
//! (`policies.<name>.rate_limit`). Rates and keys stay text here; they are
//! checked, with their places, when the config is compiled.

use std::path::PathBuf;

use serde::Deserialize;

use super::units::Duration;

/// `rate_limit: { key: claim:sub, rate: 100/s, burst: 200, store: redis, redis: {...} }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// What a request is counted under: `ip`, `header:<name>`,
    /// `client_cert`, `consumer`, `claim:<name>` or `route`.
    pub key: String,
    /// The sustained rate, `N/s`, `N/m` or `N/h`.
    pub rate: String,
    /// The most requests at once (default: the rate's count).
    pub burst: Option<u32>,
    /// Where the buckets live (default local).
    #[serde(default)]
    pub store: RateLimitStoreConfig,
    /// The most keys held in this process (default 100000).
    pub max_keys: Option<u64>,
    /// With `key: ip`: the proxies (addresses or CIDR blocks) whose
    /// `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The Redis server (required with `store: redis`).
    pub redis: Option<RedisConfig>,
    /// With `store: redis`: the limit this process applies alone while
    /// Redis is unreachable (default: the same rate and burst).
    pub fallback: Option<FallbackConfig>,
}

/// Where the buckets live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitStoreConfig {
    /// In each gateway process.
    #[default]
    Local,
    /// In Redis, shared by every gateway instance.
    Redis,
}

/// A Redis server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db`, or `rediss://` for TLS; never with a password.
    pub url: String,
    /// A file holding the password (surrounding whitespace ignored).
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password.
    pub password_env: Option<String>,
    /// How long a decision waits for Redis before deciding locally (default 10ms).
    pub timeout: Option<Duration>,
    /// Prepended to the keys in Redis (default `protogate:rl:<policy>:`).
    pub key_prefix: Option<String>,
    /// With `rediss://`: a PEM file of the CA certificates to trust instead
    /// of the system's roots.
    pub ca_file: Option<PathBuf>,
}

/// The limit applied while Redis is unreachable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    /// The sustained rate (default: the policy's).
    pub rate: Option<String>,
    /// The burst (default: the policy's burst when the rate is the
    /// policy's, else this rate's count).
    pub burst: Option<u32>,
}
