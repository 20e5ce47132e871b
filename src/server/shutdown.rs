//! The graceful stop of the process, in phases:
//!
//! 1. a stop signal (SIGTERM, SIGINT) arrives: the shared [`Draining`] flag
//!    is raised, so `/readyz` answers 503 at once;
//! 2. the listeners keep accepting for `shutdown.delay` (load balancers
//!    need a moment to stop sending), then stop;
//! 3. connections get `shutdown.drain` to finish what is in flight (HTTP/2
//!    GOAWAY, `Connection: close` on HTTP/1.1); those still open after it
//!    are closed;
//! 4. done: the process exits 0.
//!
//! A second signal during 2 or 3 ends the wait at once ([`Stopped::Forced`]).
//! Each phase is logged. This room stops listeners; it never exits the
//! process itself (main.rs does, with [`StopSignal::exit_code`]).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::task::JoinSet;

use super::RunningServer;

/// The drain when the config sets none (`shutdown.drain`).
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);

/// `shutdown.delay` and `shutdown.drain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownSettings {
    /// How long the listeners keep accepting after the signal (default 0).
    pub delay: Duration,
    /// How long connections get to finish once the listeners stop (default 30s).
    pub drain: Duration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self { delay: Duration::ZERO, drain: DEFAULT_DRAIN }
    }
}

/// Raised when a stop begins; readiness reads it. Clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Whether the process is stopping.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM.
    Terminate,
    /// SIGINT (Ctrl-C).
    Interrupt,
}

impl StopSignal {
    /// `SIGTERM`, `SIGINT`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Terminate => "SIGTERM",
            Self::Interrupt => "SIGINT",
        }
    }

    /// The status of a process ended by it at once: 128 + its number (143, 130).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Terminate => 128 + 15,
            Self::Interrupt => 128 + 2,
        }
    }
}

/// The stop signals, listened to from the moment this is made (a signal
/// that arrives between two [`StopSignals::next`] calls is kept).
#[derive(Debug)]
pub struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening; fails when the signal handlers cannot be installed.
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next stop signal.
    pub async fn next(&mut self) -> StopSignal {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => StopSignal::Terminate,
            _ = self.interrupt.recv() => StopSignal::Interrupt,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            StopSignal::Interrupt
        }
    }
}

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection finished within the drain.
    Drained,
    /// The drain expired; this many connections were closed.
    DrainExpired(usize),
    /// A second signal cut the stop short.
    Forced(StopSignal),
}

/// The stop of a set of listeners, with the flag readiness reads.
#[derive(Debug)]
pub struct Shutdown {
    settings: ShutdownSettings,
    draining: Draining,
}

impl Shutdown {
    /// A stop with these settings, not begun.
    pub fn new(settings: ShutdownSettings) -> Self {
        Self { settings, draining: Draining::default() }
    }

    /// The flag raised when the stop begins (for `/readyz`).
    pub fn draining(&self) -> Draining {
        self.draining.clone()
    }

    /// Waits for a stop signal, then stops `servers` phase by phase (see
    /// the module's doc); returns early on a second signal.
    pub async fn run(self, mut signals: StopSignals, servers: Vec<RunningServer>) -> Stopped {
        let ShutdownSettings { delay, drain } = self.settings;
        let first = signals.next().await;
        self.draining.raise();
        tracing::info!(
            ?delay,
            "{} received: /readyz answers 503; the listeners accept for the delay",
            first.name()
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            second = signals.next() => return forced(second),
        }
        tracing::info!(?drain, "the listeners stop accepting; open connections get the drain to finish");
        let mut draining: JoinSet<usize> = servers.into_iter().map(|server| server.shutdown(drain)).collect();
        let closed = tokio::select! {
            closed = async {
                let mut closed = 0;
                while let Some(one) = draining.join_next().await {
                    closed += one.unwrap_or(0);
                }
                closed
            } => closed,
            second = signals.next() => return forced(second),
        };
        let stopped = if closed == 0 {
            tracing::info!("connections drained");
            Stopped::Drained
        } else {
            tracing::warn!(closed, "drain expired: the connections still open were closed");
            Stopped::DrainExpired(closed)
        };
        tracing::info!("protogate stopped");
        stopped
    }
}

fn forced(signal: StopSignal) -> Stopped {
    tracing::warn!("{} received again: exiting at once", signal.name());
    Stopped::Forced(signal)
}
