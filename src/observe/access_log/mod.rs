//! The access log, as an [`Observer`]: one JSON line per request, written
//! when the request ended ([`Phase::RequestEnded`]: its record is whole
//! then, and a request whose client went away before any response still
//! gets its line), to standard output or a file ([`AccessLogSettings`]),
//! with the credentials of its query redacted. `sample` keeps that share
//! of requests, spread evenly (every answer of 500 and above is kept).
//! A file is reopened on SIGUSR1 (logrotate's `postrotate`).

mod line;
mod redact;
mod writer;

use std::{
    io,
    sync::atomic::{AtomicU64, Ordering},
};

use writer::{LogWriter, Reopener};

use super::{AccessLogSettings, Observer, Phase, RequestContext};
use crate::task::TaskGuard;

/// Writes one line per request.
pub struct AccessLog {
    writer: LogWriter,
    sample_per_million: u64,
    credential_params: Vec<String>,
    /// Requests seen, for sampling.
    seen: AtomicU64,
    _reopen: Option<TaskGuard>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("sample_per_million", &self.sample_per_million)
            .finish_non_exhaustive()
    }
}

impl AccessLog {
    /// Opens the log of `settings` (a file for appending) and, for a file,
    /// listens to SIGUSR1 to reopen it. Call within a Tokio runtime.
    pub fn start(settings: &AccessLogSettings) -> io::Result<Self> {
        let writer = LogWriter::start(settings.path.clone())?;
        let reopen = match &settings.path {
            Some(_) => Some(reopen_on_sigusr1(writer.reopener())?),
            None => None,
        };
        Ok(Self {
            writer,
            sample_per_million: u64::from(settings.sample_per_million),
            credential_params: settings.credential_params.clone(),
            seen: AtomicU64::new(0),
            _reopen: reopen,
        })
    }

    /// Whether the next request with `status` is logged: the sampled share,
    /// spread evenly over the requests seen, and every server error.
    fn sampled(&self, status: u16) -> bool {
        if self.sample_per_million >= 1_000_000 || status >= 500 {
            return true;
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        // Logged when the running total of the share crosses a whole request.
        (n + 1) * self.sample_per_million / 1_000_000 != n * self.sample_per_million / 1_000_000
    }
}

impl Observer for AccessLog {
    fn on_phase(&self, context: &RequestContext, phase: Phase<'_>) {
        if let Phase::RequestEnded = phase {
            let record = context.record();
            if self.sampled(record.status.map_or(0, |status| status.as_u16())) {
                self.writer.write(|out| line::write(context, &record, &self.credential_params, out));
            }
        }
    }
}

#[cfg(unix)]
fn reopen_on_sigusr1(writer: Reopener) -> io::Result<TaskGuard> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut signals = signal(SignalKind::user_defined1())?;
    Ok(TaskGuard::spawn(async move {
        while signals.recv().await.is_some() {
            writer.reopen();
        }
    }))
}

#[cfg(not(unix))]
fn reopen_on_sigusr1(_writer: Reopener) -> io::Result<TaskGuard> {
    Ok(TaskGuard::spawn(async {}))
}
