//! The one retry loop: every target's call to an upstream goes through
//! [`Upstream::call_with_retries`], which picks each try's endpoint, reports
//! each failed try's outcome, and decides (src/upstream/retry.rs) whether,
//! and after which pause, to try again within the call's deadline.
//!
//! A target gives it one closure that starts one try on the endpoint it is
//! handed (taking what it needs from the [`Picked`] before the future
//! starts) and whose future says how the try went ([`Tried`]): an answer,
//! or a failure with its outcome and what it proves ([`TryError`]). The target never picks, never
//! counts tries and never sleeps; this room never learns the protocol.
//!
//! A try whose connection could not be opened ([`Outcome::ConnectFailure`])
//! is told the same way for every target: its error becomes
//! [`Unreachable`] (naming the upstream), and the original is logged as the
//! cause, with the endpoint, at most once a second per upstream
//! ([`Picked::unreachable`]).

use std::{fmt::Display, future::Future, sync::Arc, time::Instant};

use tonic::Code;
use tracing::Instrument;

use super::{Outcome, Picked, TryFailure, TryListener, Unavailable, Unreachable, Upstream};

/// What a try is told about its place in the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// No other try can follow this one: the request need not be kept.
    pub last: bool,
}

/// A failed try: what the client is told if it is the last, what it says
/// about the endpoint, and what it proves about the request.
#[derive(Debug)]
pub struct TryError<E> {
    /// The error the call ends with when no other try follows.
    pub error: E,
    /// Reported to the endpoint's outlier detection and the breaker.
    pub outcome: Outcome,
    /// Whether the request may be sent again.
    pub retry: TryFailure,
}

/// How one try went.
#[derive(Debug)]
pub enum Tried<T, E> {
    /// An answer to pass on. Its outcome is the caller's to report (a
    /// streamed answer's is known only when its body ends).
    Answer(T),
    /// An answer that is a failure of the endpoint (a 503): replaced by
    /// another try when the call may be retried as [`TryFailure::Failed`]
    /// (the try then counts as [`Outcome::Failure`], and `error` stands for
    /// it if the next try finds no endpoint); passed on otherwise.
    FailedAnswer {
        /// The answer.
        answer: T,
        /// What it means, should another try replace it.
        error: E,
    },
    /// No answer.
    Failed(TryError<E>),
}

/// A failed try's error, which may stand for a gRPC status the try ended
/// with (reported with the try's outcome, for its metrics).
pub trait TryStatus: Display + From<Unreachable> {
    /// The status, `None` for a failure that is not one (an HTTP exchange's).
    fn try_status(&self) -> Option<Code>;
}

/// Why a call ended without an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum CallError<E> {
    /// No endpoint could take the first try.
    Unavailable(Unavailable),
    /// The deadline passed before a try could start.
    Expired,
    /// The last try failed so.
    Failed(E),
}

impl Upstream {
    /// Makes a call of one or more tries, each on an endpoint picked for
    /// it, until one answers, one fails for good, or no try may follow (no
    /// tries left, no retry budget, no time before `deadline`, no
    /// endpoint). `idempotent` when sending the call twice is harmless.
    ///
    /// Returns the answer with the endpoint that gave it, whose outcome the
    /// caller reports ([`Picked::finish`]); every failed try's outcome is
    /// reported here. `listener` hears each try when picked and when ended.
    pub async fn call_with_retries<T, E, F, Fut>(
        &self,
        idempotent: bool,
        deadline: Instant,
        listener: Arc<dyn TryListener>,
        mut try_once: F,
    ) -> Result<(T, Picked), CallError<E>>
    where
        E: TryStatus,
        F: FnMut(&Picked, Attempt) -> Fut,
        Fut: Future<Output = Tried<T, E>>,
    {
        let mut tries = self.tries(idempotent).reporting_to(listener);
        let mut last_error = None;
        loop {
            if Instant::now() >= deadline {
                return Err(CallError::Expired);
            }
            let picked = match tries.pick() {
                Ok(picked) => picked,
                // A retry that finds no endpoint ends with the last failure.
                Err(unavailable) => {
                    return Err(last_error.map_or(CallError::Unavailable(unavailable), CallError::Failed));
                }
            };
            let attempt = Attempt { last: !tries.may_retry() };
            let span = tracing::debug_span!(target: "protogate::span", "upstream", upstream = self.name(), endpoint = %picked.uri());
            // Dropped with this future when the client goes away: Ignored.
            let (failure, pause) = match try_once(&picked, attempt).instrument(span).await {
                Tried::Answer(answer) => return Ok((answer, picked)),
                Tried::FailedAnswer { answer, error } => {
                    match tries.retry_after(TryFailure::Failed, deadline) {
                        None => return Ok((answer, picked)),
                        Some(pause) => {
                            (TryError { error, outcome: Outcome::Failure, retry: TryFailure::Failed }, pause)
                        }
                    }
                }
                Tried::Failed(failure) => match tries.retry_after(failure.retry, deadline) {
                    None => return Err(CallError::Failed(settle(picked, failure))),
                    Some(pause) => (failure, pause),
                },
            };
            let error = settle(picked, failure);
            tracing::debug!(upstream = self.name(), %error, ?pause, "retrying");
            last_error = Some(error);
            tokio::time::sleep(pause).await;
        }
    }
}

/// Reports a failed try's outcome to its endpoint; the error it leaves
/// (a connection that could not be opened becomes [`Unreachable`]).
fn settle<E: TryStatus>(mut picked: Picked, failure: TryError<E>) -> E {
    match failure.outcome {
        Outcome::ConnectFailure => picked.unreachable(&failure.error).into(),
        outcome => {
            if let Some(code) = failure.error.try_status() {
                picked.ended_with(code);
            }
            picked.finish(outcome);
            failure.error
        }
    }
}
