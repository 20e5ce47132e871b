//! The Redis store: one atomic GCRA per decision, a Lua script run with
//! EVALSHA (EVAL when Redis answers NOSCRIPT), over one multiplexed
//! connection that pipelines concurrent decisions and reconnects by itself.
//!
//! Redis's own clock (`TIME`) is the clock of every gateway instance, so
//! their decisions agree. When Redis does not answer within the timeout,
//! or fails, this process decides with its local fallback limit; Redis is
//! then left alone for [`RETRY_EVERY`], after which one decision probes it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use redis::{
    Client, ConnectionInfo, IntoConnectionInfo, Script, TlsCertificates,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use super::{Decision, RateLimitSetupError, RedisSettings, gcra::Gcra, local::LocalStore};

/// How long Redis is left alone after a failure before one decision probes it.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// The time allowed to open a connection (the reconnection runs in the
/// background; no decision waits for it beyond the decision timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// KEYS[1]: the bucket; ARGV[1]: the interval (µs); ARGV[2]: the tolerance
/// (interval × burst, µs); ARGV[3]: the burst. Returns {allowed, remaining,
/// reset µs, retry-after µs}: the steps of `gcra.rs`.
const GCRA_LUA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local next = tat + interval
local ahead = next - now
if ahead > tolerance then
  return {0, 0, tat - now, ahead - tolerance}
end
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil(ahead / 1000) + 1)
return {1, math.min(burst, math.floor((tolerance - ahead) / interval)), ahead, 0}
";

/// Checks a Redis URL: it parses, and carries no password.
pub fn check_redis_url(url: &str) -> Result<(), RateLimitSetupError> {
    connection_info(url).map(drop)
}

fn connection_info(url: &str) -> Result<ConnectionInfo, RateLimitSetupError> {
    let info = url
        .into_connection_info()
        .map_err(|error| RateLimitSetupError::RedisUrl { url: url.to_owned(), message: error.to_string() })?;
    if info.redis_settings().password().is_some() {
        return Err(RateLimitSetupError::InlinePassword);
    }
    Ok(info)
}

/// The Redis buckets of one limit, and the local fallback.
pub(super) struct RedisStore {
    connection: ConnectionManager,
    script: Script,
    gcra: Gcra,
    key_prefix: String,
    timeout: Duration,
    fallback: Arc<LocalStore>,
    fallback_decisions: AtomicU64,
    /// Milliseconds since `start` until which Redis is not asked; 0: up.
    down_until: AtomicU64,
    /// Whether the outage has been logged.
    down_logged: AtomicBool,
    start: Instant,
}

impl RedisStore {
    pub(super) fn new(
        settings: &RedisSettings,
        gcra: Gcra,
        fallback: Arc<LocalStore>,
    ) -> Result<Self, RateLimitSetupError> {
        let url_error =
            |message: String| RateLimitSetupError::RedisUrl { url: settings.url.clone(), message };
        let mut info = connection_info(&settings.url)?;
        if let Some(password) = &settings.password {
            let redis = info.redis_settings().clone().set_password(password.expose());
            info = info.set_redis_settings(redis);
        }
        let client = match &settings.ca_pem {
            Some(pem) => {
                let certificates = TlsCertificates { client_tls: None, root_cert: Some(pem.clone()) };
                Client::build_with_tls(info, certificates)
            }
            None => Client::open(info),
        }
        .map_err(|e| url_error(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(RETRY_EVERY)
            .set_response_timeout(None);
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|e| url_error(e.to_string()))?;
        Ok(Self {
            connection,
            script: Script::new(GCRA_LUA),
            gcra,
            key_prefix: settings.key_prefix.clone(),
            timeout: settings.timeout,
            fallback,
            fallback_decisions: AtomicU64::new(0),
            down_until: AtomicU64::new(0),
            down_logged: AtomicBool::new(false),
            start: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX).saturating_add(1)
    }

    /// Counts one request under `key`: in Redis, or locally when Redis is
    /// known to be down or does not answer within the timeout.
    pub(super) async fn check(&self, key: &str) -> Decision {
        let until = self.down_until.load(Ordering::Acquire);
        if until != 0 {
            let now = self.now_ms();
            // Down: decide locally, except one decision per RETRY_EVERY
            // that probes Redis (the one that moves the mark).
            let probe = now >= until
                && self
                    .down_until
                    .compare_exchange(
                        until,
                        now + RETRY_EVERY.as_millis() as u64,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok();
            if !probe {
                return self.fall_back(key);
            }
        }
        let failure = match tokio::time::timeout(self.timeout, self.ask(key)).await {
            Ok(Ok(decision)) => {
                self.down_until.store(0, Ordering::Release);
                if self.down_logged.swap(false, Ordering::AcqRel) {
                    tracing::info!("Redis answers again: rate limits are shared again");
                }
                return decision;
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {:?}", self.timeout),
        };
        let until = self.now_ms() + RETRY_EVERY.as_millis() as u64;
        self.down_until.fetch_max(until, Ordering::AcqRel);
        if !self.down_logged.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                reason = %failure,
                "Redis is unreachable: rate limits fall back to this process's own limit until it answers"
            );
        }
        self.fall_back(key)
    }

    fn fall_back(&self, key: &str) -> Decision {
        self.fallback_decisions.fetch_add(1, Ordering::Relaxed);
        self.fallback.check(key)
    }

    async fn ask(&self, key: &str) -> redis::RedisResult<Decision> {
        let mut connection = self.connection.clone();
        let (allowed, remaining, reset, retry): (i64, i64, i64, i64) = self
            .script
            .key(format!("{}{key}", self.key_prefix))
            .arg(self.gcra.interval)
            .arg(self.gcra.tolerance)
            .arg(self.gcra.burst)
            .invoke_async(&mut connection)
            .await?;
        let micros = |value: i64| Duration::from_micros(u64::try_from(value).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            limit: self.gcra.burst,
            remaining: u32::try_from(remaining).unwrap_or(0).min(self.gcra.burst),
            reset: micros(reset),
            retry_after: (allowed != 1).then(|| micros(retry)),
        })
    }

    /// Decisions made by the local fallback so far.
    pub(super) fn fallback_decisions(&self) -> u64 {
        self.fallback_decisions.load(Ordering::Relaxed)
    }

    /// The fallback's store, swept with the others.
    pub(super) fn fallback(&self) -> &Arc<LocalStore> {
        &self.fallback
    }
}

impl RedisStore {
    /// Connects once at start, so that an unreachable Redis is logged
    /// before the first request; the policy starts either way.
    pub(super) async fn connect(&self) {
        let mut connection = self.connection.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        let failure = match tokio::time::timeout(CONNECT_TIMEOUT, ping).await {
            Ok(Ok(_)) => return,
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {CONNECT_TIMEOUT:?}"),
        };
        self.down_until.store(self.now_ms() + RETRY_EVERY.as_millis() as u64, Ordering::Release);
        self.down_logged.store(true, Ordering::Release);
        tracing::warn!(
            reason = %failure,
            "Redis is unreachable at start: rate limits fall back to this process's own limit until it answers"
        );
    }
}
