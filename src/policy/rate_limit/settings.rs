//! What a rate limit is made of, checked: the rate, the burst, the key, the
//! store. Built by hand or from the config (`compile::rate_limit_settings`).

use std::{fmt, str::FromStr, time::Duration};

use super::LimitKey;

/// The most keys held by default: beyond it, new keys share one bucket.
pub const DEFAULT_MAX_KEYS: usize = 100_000;
/// How long a decision may wait for Redis by default before the local
/// fallback decides.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(10);
/// The fastest rate: one request per microsecond, the GCRA's resolution.
const FASTEST_PER_SECOND: u64 = 1_000_000;
/// The largest burst.
pub const MAX_BURST: u32 = 1_000_000;

/// A sustained rate: `count` requests per `period` (`100/s`, `20/m`, `5/h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    period: Duration,
}

impl Rate {
    /// `count` per `period`; `None` when the count is 0, the period is not
    /// 1s, 1m or 1h, or the rate is faster than 1,000,000/s.
    pub fn new(count: u32, period: Duration) -> Option<Self> {
        let known = [1, 60, 3600].iter().any(|&secs| period == Duration::from_secs(secs));
        let fast_enough = u64::from(count) <= FASTEST_PER_SECOND.saturating_mul(period.as_secs());
        (count > 0 && known && fast_enough).then_some(Self { count, period })
    }

    /// The requests per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Microseconds between two requests at this rate (at least 1).
    pub(super) fn interval_micros(&self) -> u64 {
        let micros = u64::try_from(self.period.as_micros()).unwrap_or(u64::MAX);
        (micros / u64::from(self.count.max(1))).max(1)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            format!(
                "invalid rate {text:?}: write a whole number of requests per s, m or h, such as 100/s (at most 1000000/s)"
            )
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(invalid)?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        let period = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(invalid()),
        };
        Self::new(count, period).ok_or_else(invalid)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            60 => "m",
            3600 => "h",
            _ => "s",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The sustained rate.
    pub rate: Rate,
    /// The most requests let through at once (at least 1; a fresh key may
    /// send this many at once, then one per `period / count`).
    pub burst: u32,
}

/// A secret (a Redis password): never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the buckets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// In this process: each gateway instance limits on its own.
    Local,
    /// In Redis, shared by every gateway instance that uses it.
    Redis(RedisSettings),
}

/// A Redis store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://host:port/db` or `rediss://` (TLS, with the system's
    /// roots unless `ca_pem`); a username may be in it, a password may not.
    pub url: String,
    /// The password (read from a file or the environment).
    pub password: Option<Secret>,
    /// How long a decision waits for Redis before the local fallback
    /// decides (default [`DEFAULT_REDIS_TIMEOUT`]).
    pub timeout: Duration,
    /// Prepended to every key in Redis (`protogate:rl:<policy>:`).
    pub key_prefix: String,
    /// The limit applied in this process while Redis is unreachable.
    pub fallback: Limit,
    /// With `rediss://`: the CA certificates (PEM) trusted instead of the
    /// system's roots.
    pub ca_pem: Option<Vec<u8>>,
}

/// A rate-limit policy's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// What a request is counted under.
    pub key: LimitKey,
    /// The limit per key.
    pub limit: Limit,
    /// Where the buckets live.
    pub store: Store,
    /// The most keys held in this process (at least 1; default
    /// [`DEFAULT_MAX_KEYS`]); see the module docs for what happens at the cap.
    pub max_keys: usize,
}

/// Settings that cannot make a policy.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitSetupError {
    /// The Redis URL does not parse or names no TCP address.
    #[error("invalid Redis URL {url:?}: {message}")]
    RedisUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// A password written into the URL instead of a file or variable.
    #[error("the Redis URL carries a password; give it with password_file or password_env, never inline")]
    InlinePassword,
    /// A limit outside its range.
    #[error("invalid limit: {0}")]
    Limit(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!("100/s".parse::<Rate>().map(|r| r.interval_micros()), Ok(10_000));
        assert_eq!("2/m".parse::<Rate>().map(|r| r.interval_micros()), Ok(30_000_000));
        assert_eq!(" 1 / h ".parse::<Rate>().map(|r| r.to_string()), Ok("1/h".to_owned()));
        assert_eq!("1000000/s".parse::<Rate>().map(|r| r.interval_micros()), Ok(1));
        for bad in ["", "100", "100/x", "0/s", "-1/s", "1.5/s", "1000001/s", "/s", "100/d"] {
            let error = bad.parse::<Rate>().unwrap_err();
            assert!(error.starts_with("invalid rate"), "{bad}: {error}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
