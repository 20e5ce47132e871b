//! What a run did, and which promises it broke.
//!
//! The rules for failures (judged by what was in flight, from sent to
//! answered): a request in flight while its backend was being killed may
//! fail (the backend may have done the work, so it is not sent again), and
//! so may a POST sent within the close-notice margin after (written to a
//! pooled connection whose close the gateway had not read); a POST answered
//! with the failing backend's error may fail (the same); a request in
//! flight to a blackholed backend before health checks could notice (their
//! interval × unhealthy threshold + timeout + the deadline, × the margin)
//! may fail; a request sent once SIGTERM began the stop may fail or go
//! unanswered (refused, or its idle connection closed). No failure is
//! allowed for a reload. Anything else that fails is a violation, and so
//! is a request without an answer, a POST that reached backends twice, a
//! recovery slower than its bound, a reload refused, a stop that found no
//! request in flight or did not drain, and memory that grew.

use std::{collections::BTreeMap, fmt, time::Duration};

use protogate::server::shutdown::Stopped;

use super::{
    Fault, Verdict, Window,
    load::{Kind, Outcome, Result},
    verdict,
};

/// The largest growth of the resident set accepted between the end of the
/// first phase and the end of the run: loose, since allocators keep what
/// they got, but a leak per request would pass it in seconds.
const RSS_GROWTH_KIB: u64 = 64 * 1024;

#[derive(Debug, Default)]
pub struct Report {
    pub sent: BTreeMap<Kind, u64>,
    pub succeeded: BTreeMap<Kind, u64>,
    /// (cause, verdict) → count.
    pub failed: BTreeMap<(String, Verdict), u64>,
    /// Requests without an answer: kind, id, error.
    pub no_response: Vec<String>,
    /// POST ids that reached backends more than once, with how many times.
    pub duplicates: Vec<(String, u32)>,
    /// What recovered, in how long (`None`: not within the bound), the bound.
    pub recoveries: Vec<(&'static str, Option<Duration>, Duration)>,
    pub rss_kib_before: Option<u64>,
    pub rss_kib_after: Option<u64>,
    /// Faults the run did not inject, and why.
    pub not_run: Vec<String>,
    /// Reloads swapped in under load.
    pub reloads: u32,
    /// Reloads refused, and why.
    pub refused_reloads: Vec<String>,
    /// How the stop on SIGTERM ended.
    pub shutdown: Option<Stopped>,
    /// Requests in flight when SIGTERM came that were answered with success.
    pub answered_at_sigterm: usize,
}

impl Report {
    pub(super) fn tally(&mut self, outcomes: &[Outcome], windows: &[Window]) {
        for outcome in outcomes {
            *self.sent.entry(outcome.kind).or_default() += 1;
            match &outcome.result {
                Result::Success => *self.succeeded.entry(outcome.kind).or_default() += 1,
                Result::Failed(cause) => {
                    let verdict = verdict(outcome, cause, windows);
                    *self.failed.entry((format!("{:?}: {cause}", outcome.kind), verdict)).or_default() += 1;
                }
                Result::NoResponse(_) if after_sigterm(outcome, windows) => {
                    let cause =
                        format!("{:?}: no response once stopping (refused, or closed idle)", outcome.kind);
                    *self.failed.entry((cause, Verdict::Unavoidable)).or_default() += 1;
                }
                Result::NoResponse(error) => {
                    self.no_response.push(format!("{:?} {}: {error}", outcome.kind, outcome.id));
                }
            }
        }
    }

    /// Every broken promise, in words; empty when the run held.
    pub fn violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        if self.sent.values().sum::<u64>() == 0 {
            violations.push("no request was sent".to_owned());
        }
        violations.extend(self.no_response.iter().map(|r| format!("no response: {r}")));
        violations
            .extend(self.duplicates.iter().map(|(id, n)| format!("POST {id} reached backends {n} times")));
        for ((cause, verdict), count) in &self.failed {
            if *verdict == Verdict::Avoidable {
                violations.push(format!("{count} avoidable failures: {cause}"));
            }
        }
        for (what, took, bound) in &self.recoveries {
            if took.is_none() {
                violations.push(format!("{what}: not within {bound:?}"));
            }
        }
        if self.reloads == 0 {
            violations.push("no reload was swapped in".to_owned());
        }
        violations.extend(self.refused_reloads.iter().map(|why| format!("refused: {why}")));
        match self.shutdown {
            Some(Stopped::Drained) => {}
            other => violations.push(format!("the stop on SIGTERM did not drain: {other:?}")),
        }
        if self.answered_at_sigterm == 0 {
            violations.push("no request in flight at SIGTERM was answered".to_owned());
        }
        if let (Some(before), Some(after)) = (self.rss_kib_before, self.rss_kib_after)
            && after > before + RSS_GROWTH_KIB
        {
            violations.push(format!("memory grew from {before} KiB to {after} KiB"));
        }
        violations
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = |map: &BTreeMap<Kind, u64>| map.values().sum::<u64>();
        let failed: u64 = self.failed.values().sum();
        writeln!(
            f,
            "sent {}, succeeded {}, failed {failed}, no response {}",
            total(&self.sent),
            total(&self.succeeded),
            self.no_response.len()
        )?;
        for (kind, sent) in &self.sent {
            writeln!(f, "  {kind:?}: sent {sent}, succeeded {}", self.succeeded.get(kind).unwrap_or(&0))?;
        }
        writeln!(f, "failed by cause:")?;
        for ((cause, verdict), count) in &self.failed {
            let verdict = match verdict {
                Verdict::Unavoidable => "unavoidable",
                Verdict::Avoidable => "AVOIDABLE",
            };
            writeln!(f, "  {count:>6}  [{verdict}] {cause}")?;
        }
        writeln!(f, "duplicated POSTs: {}", self.duplicates.len())?;
        for (what, took, bound) in &self.recoveries {
            match took {
                Some(took) => writeln!(f, "recovery: {what} after {took:?} (bound {bound:?})")?,
                None => writeln!(f, "recovery: {what} NOT within {bound:?}")?,
            }
        }
        writeln!(
            f,
            "reloads swapped in under load: {}, refused: {}",
            self.reloads,
            self.refused_reloads.len()
        )?;
        writeln!(
            f,
            "SIGTERM: {:?}, {} requests in flight answered",
            self.shutdown, self.answered_at_sigterm
        )?;
        writeln!(
            f,
            "RSS: {:?} KiB after the first phase, {:?} KiB at the end",
            self.rss_kib_before, self.rss_kib_after
        )?;
        for skipped in &self.not_run {
            writeln!(f, "not run: {skipped}")?;
        }
        Ok(())
    }
}

/// Whether `outcome` was sent once SIGTERM began the stop.
fn after_sigterm(outcome: &Outcome, windows: &[Window]) -> bool {
    windows.iter().any(|window| window.fault == Fault::Sigterm && outcome.sent >= window.from)
}
