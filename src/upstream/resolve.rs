//! Resolving the host names of an upstream's endpoints: once when the
//! upstream is built, then every `dns_refresh` in a task owned by the
//! upstream.
//!
//! The first resolution is synchronous, because compiling a config is: each
//! name is looked up on a thread of its own (the system resolver, as
//! `tokio::net::lookup_host` uses it) and the build waits for all of them
//! at most [`FIRST_RESOLUTION_WAIT`]. A name without an answer by then has
//! no endpoints until a refresh finds some; the build never fails for it.
//! Refreshes use `tokio::net::lookup_host`, each bounded by
//! [`RESOLUTION_TIMEOUT`].

use std::{
    net::{SocketAddr, ToSocketAddrs},
    sync::{Arc, Mutex, PoisonError, mpsc},
    time::{Duration, Instant},
};

use tokio::time::MissedTickBehavior;

use super::members::Membership;
use crate::task::TaskGuard;

/// The longest the build of an upstream waits for its names.
const FIRST_RESOLUTION_WAIT: Duration = Duration::from_secs(2);
/// The longest one refresh of a name may take.
const RESOLUTION_TIMEOUT: Duration = Duration::from_secs(5);

/// A host name of one configured endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Name {
    /// The endpoint's index among the upstream's (its group in the membership).
    pub(super) group: usize,
    /// The name.
    pub(super) host: String,
    /// The port every address gets.
    pub(super) port: u16,
}

/// Why a name gave no addresses.
#[derive(Debug, thiserror::Error)]
pub(super) enum ResolveError {
    /// The resolver failed (unknown name, no server, …).
    #[error("{0}")]
    Lookup(#[from] std::io::Error),
    /// The resolver answered with no address.
    #[error("the name has no address")]
    NoAddress,
    /// The resolver did not answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// The addresses of an answer; none is an error.
fn addresses(answer: impl Iterator<Item = SocketAddr>) -> Result<Vec<SocketAddr>, ResolveError> {
    let addresses: Vec<SocketAddr> = answer.collect();
    if addresses.is_empty() { Err(ResolveError::NoAddress) } else { Ok(addresses) }
}

/// Resolves `names` at once, in parallel, blocking for at most
/// [`FIRST_RESOLUTION_WAIT`]; the results are in the order of `names`.
pub(super) fn resolve_now(names: &[Name]) -> Vec<Result<Vec<SocketAddr>, ResolveError>> {
    let (sender, answers) = mpsc::channel();
    for (index, name) in names.iter().enumerate() {
        let (sender, host, port) = (sender.clone(), name.host.clone(), name.port);
        // A thread whose answer comes too late ends on its own, unheard.
        std::thread::spawn(move || {
            let result = (host.as_str(), port).to_socket_addrs().map_err(ResolveError::from);
            let _ = sender.send((index, result.and_then(addresses)));
        });
    }
    drop(sender);
    let mut results: Vec<_> =
        names.iter().map(|_| Err(ResolveError::Timeout(FIRST_RESOLUTION_WAIT))).collect();
    let deadline = Instant::now() + FIRST_RESOLUTION_WAIT;
    for _ in names {
        let Ok((index, result)) = answers.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        if let Some(slot) = results.get_mut(index) {
            *slot = result;
        }
    }
    results
}

/// Resolves one name with Tokio's resolver, bounded by [`RESOLUTION_TIMEOUT`].
async fn resolve(name: &Name) -> Result<Vec<SocketAddr>, ResolveError> {
    match tokio::time::timeout(RESOLUTION_TIMEOUT, tokio::net::lookup_host((name.host.as_str(), name.port)))
        .await
    {
        Ok(answer) => addresses(answer?),
        Err(_) => Err(ResolveError::Timeout(RESOLUTION_TIMEOUT)),
    }
}

/// Starts resolving `names` again every `every`, handing each result to
/// `members`; the task stops when the guard is dropped.
pub(super) fn start(members: Arc<Mutex<Membership>>, names: Vec<Name>, every: Duration) -> TaskGuard {
    TaskGuard::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for name in &names {
                let result = resolve(name).await;
                members.lock().unwrap_or_else(PoisonError::into_inner).resolved(name.group, result, every);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(host: &str) -> Name {
        Name { group: 0, host: host.to_owned(), port: 7 }
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_and_invalid_names_fail() {
        let now = resolve_now(&[name("localhost"), name("nothing.invalid")]);
        let loopback = now[0].as_ref().expect("localhost resolves");
        assert!(loopback.iter().all(|a| a.ip().is_loopback() && a.port() == 7), "{loopback:?}");
        assert!(now[1].is_err(), "{:?}", now[1]);

        let later = resolve(&name("localhost")).await.expect("localhost resolves");
        assert!(later.iter().all(|a| a.ip().is_loopback()), "{later:?}");
        assert!(resolve(&name("nothing.invalid")).await.is_err());
    }
}
