//! Retries: when a failed try may be sent again, how long to wait first,
//! and the budget that keeps retries from multiplying an outage.
//!
//! A try is sent again only when its failure proves the request never
//! reached the backend ([`TryFailure::NotSent`]: the connection could not be
//! opened, the stream was refused with REFUSED_STREAM, or a GOAWAY excluded
//! it; by default, once per endpoint, whatever `attempts` says, as gRPC
//! clients' transparent retries), or when the call is idempotent and the
//! endpoint failed ([`TryFailure::Failed`], `attempts` tries at most). A call that may have reached the backend and is
//! not idempotent is never sent twice. Every retry needs a token from the
//! upstream's budget (tower's [`TpsBudget`]: a share of the recent first
//! tries, plus a small floor per second), must leave time before the call's
//! deadline, and picks an endpoint again, avoiding those this call already
//! failed on while others can take it.
//!
//! Targets say what their failure proves; they never learn how the budget
//! works.

use std::{
    error::Error,
    hash::{BuildHasher, RandomState},
    net::SocketAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use http::Method;
use tower::retry::budget::{Budget, TpsBudget};

use super::{Outcome, Picked, TryListener, Unavailable, Upstream, balance::splitmix64};

/// How long a first try counts towards the budget.
const BUDGET_WINDOW: Duration = Duration::from_secs(10);

/// How an upstream retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Tries per call, the first included: 1 never retries a call that may
    /// have reached the backend (one that did not is tried on each endpoint).
    pub attempts: NonZeroU32,
    /// Retries allowed as a percentage of the first tries of the last 10s.
    pub budget_percent: u32,
    /// Retries allowed per second whatever the traffic.
    pub min_per_second: u32,
    /// The pause before the first retry; it doubles for each one after.
    pub backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
}

impl RetrySettings {
    /// The largest `budget_percent` (tower's limit: ten retries per request).
    pub const MAX_BUDGET_PERCENT: u32 = 1000;
}

impl Default for RetrySettings {
    /// One try (no retry but of calls that never reached the backend); 20%
    /// budget, 3 per second; 25ms backoff up to 250ms.
    fn default() -> Self {
        Self {
            attempts: NonZeroU32::MIN,
            budget_percent: 20,
            min_per_second: 3,
            backoff: Duration::from_millis(25),
            max_backoff: Duration::from_millis(250),
        }
    }
}

/// What a failed try proves, for deciding whether to send it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryFailure {
    /// The request never reached the backend: safe to send again.
    NotSent,
    /// The endpoint failed after the request may have reached it: sent
    /// again only when the call is idempotent.
    Failed,
    /// Anything else (an answer, the client's fault, the deadline): final.
    Final,
}

impl TryFailure {
    /// The usual reading of a try's outcome: a connect failure or a
    /// `never_sent` error was not sent, a failure failed, the rest is final.
    pub fn of(outcome: Outcome, never_sent: bool) -> Self {
        match outcome {
            Outcome::ConnectFailure => Self::NotSent,
            _ if never_sent => Self::NotSent,
            Outcome::Failure => Self::Failed,
            Outcome::Success | Outcome::Ignored => Self::Final,
        }
    }
}

/// Whether `error` (or one of its causes) proves the request was never
/// processed by the backend: an HTTP/2 stream the peer refused
/// (REFUSED_STREAM), or one a GOAWAY from the peer excluded.
pub fn never_sent(error: &(dyn Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(h2) = error.downcast_ref::<h2::Error>() {
            return h2.is_remote() && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM));
        }
        source = error.source();
    }
    false
}

/// Whether requests with this HTTP method may be sent twice: GET, HEAD,
/// OPTIONS, PUT, DELETE (RFC 9110 idempotent methods, TRACE aside).
pub fn is_idempotent_method(method: &Method) -> bool {
    [Method::GET, Method::HEAD, Method::OPTIONS, Method::PUT, Method::DELETE].contains(method)
}

/// An upstream's retry settings and budget.
#[derive(Debug)]
pub(super) struct RetryPolicy {
    settings: RetrySettings,
    budget: TpsBudget,
    /// The counter behind the backoff jitter.
    draws: AtomicU64,
    seed: u64,
}

impl RetryPolicy {
    pub(super) fn new(settings: RetrySettings) -> Self {
        let percent = settings.budget_percent.min(RetrySettings::MAX_BUDGET_PERCENT);
        // Exact: every percentage up to 1000 is an f32.
        let ratio = f32::from(u16::try_from(percent).unwrap_or(u16::MAX)) / 100.0;
        let floor = settings.min_per_second.min(1_000_000);
        Self {
            settings,
            budget: TpsBudget::new(BUDGET_WINDOW, floor, ratio),
            draws: AtomicU64::new(0),
            seed: RandomState::new().hash_one("protogate retry"),
        }
    }

    /// The pause before retry number `retry` (1 for the first): the
    /// exponential backoff, capped, half of it random.
    fn backoff(&self, retry: u32) -> Duration {
        let doubled = self.settings.backoff.saturating_mul(1 << retry.saturating_sub(1).min(20));
        let full = doubled.min(self.settings.max_backoff);
        let draw = splitmix64(self.seed ^ self.draws.fetch_add(1, Ordering::Relaxed));
        // A share of the half, in 1/1024ths.
        let share = u32::try_from(draw % 1025).unwrap_or(0);
        full / 2 + (full / 2) * share / 1024
    }
}

/// The tries of one call: picks endpoints and decides on retries.
#[derive(Debug)]
pub(super) struct Tries<'a> {
    upstream: &'a Upstream,
    idempotent: bool,
    /// Tries started so far.
    started: u32,
    /// The most tries: `attempts`, or as many as there are endpoints when
    /// that is more (a request that never reached its endpoint goes to the
    /// next one, whatever `attempts` says).
    most: u32,
    /// The address of the endpoint of the current try.
    current: Option<SocketAddr>,
    /// The addresses of the endpoints of the tries before it: a DNS refresh
    /// may reorder the pool between tries, but keeps an address's endpoint.
    tried: Vec<SocketAddr>,
    /// Told of every try.
    listener: Option<Arc<dyn TryListener>>,
}

impl Upstream {
    /// The tries of a new call; `idempotent` when sending it twice is
    /// harmless. Counts the call in the retry budget.
    pub(super) fn tries(&self, idempotent: bool) -> Tries<'_> {
        self.pool.retry.budget.deposit();
        let attempts = self.pool.retry.settings.attempts.get();
        let endpoints = u32::try_from(self.pool.endpoints.load().len()).unwrap_or(u32::MAX);
        let most = attempts.max(endpoints);
        Tries {
            upstream: self,
            idempotent,
            started: 0,
            most,
            current: None,
            tried: Vec::new(),
            listener: None,
        }
    }
}

impl Tries<'_> {
    /// These tries, each told to `listener` when picked and when ended.
    pub(super) fn reporting_to(mut self, listener: Arc<dyn TryListener>) -> Self {
        self.listener = Some(listener);
        self
    }

    /// An endpoint for the next try: one this call has not tried when there
    /// is such a candidate, else any candidate.
    pub(super) fn pick(&mut self) -> Result<Picked, Unavailable> {
        self.started = self.started.saturating_add(1);
        // Only a retry needs the list: a call answered by its first try
        // allocates nothing.
        if let Some(previous) = self.current.take() {
            self.tried.push(previous);
        }
        let mut picked = self.upstream.pick_avoiding(&self.tried, Instant::now())?;
        if let Some(listener) = &self.listener {
            picked.listened_by(listener.clone());
        }
        self.current = Some(picked.address());
        Ok(picked)
    }

    /// Whether another try could follow the current one (so its request
    /// must be kept).
    pub(super) fn may_retry(&self) -> bool {
        self.started < self.most
    }

    /// After a try failed with `failure`: the pause before the next try, or
    /// `None` when the call must end with this failure (not retryable, no
    /// tries left, no time before `deadline`, or no budget). A request that
    /// never reached its endpoint may be tried once per endpoint; one that
    /// may have, `attempts` times when idempotent.
    pub(super) fn retry_after(&mut self, failure: TryFailure, deadline: Instant) -> Option<Duration> {
        let policy = &self.upstream.pool.retry;
        let most = match failure {
            TryFailure::NotSent => self.most,
            TryFailure::Failed if self.idempotent => policy.settings.attempts.get(),
            TryFailure::Failed | TryFailure::Final => return None,
        };
        if self.started >= most {
            return None;
        }
        let pause = policy.backoff(self.started);
        if Instant::now() + pause >= deadline || !policy.budget.withdraw() {
            return None;
        }
        Some(pause)
    }
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
