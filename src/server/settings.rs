//! What the listeners are given when they start: their addresses, their
//! TLS, the limits on the request head, the admin API's token, and how
//! they stop (`shutdown.*`). These live apart from the swappable
//! [`crate::runtime::Runtime`]: swapping a runtime cannot apply them, so
//! [`ListenerSettings::changes`] says which of them a new config changes
//! (for a reload to rebind, or to say that a restart is needed).

use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};

use super::{ShutdownSettings, admission::ConnectionStats, tls::TlsEndpoint};
use crate::{admin::AdminToken, config::UnderscoreHeaders, observe::ObserveSettings};

/// Limits on the request head, applied to each connection a listener
/// accepts, and on how many connections it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// The most connections one listener holds open at once; those past
    /// it are closed as soon as accepted.
    pub max_connections: usize,
    /// The largest request head.
    pub max_header_bytes: usize,
    /// The time a client has to send its first bytes and (HTTP/1) the request head.
    pub header_read_timeout: Duration,
    /// The most requests one HTTP/2 connection may have open at once.
    pub max_concurrent_streams: u32,
    /// The most header lines in a request head (HTTP/1 and HTTP/2).
    pub max_headers: usize,
    /// What becomes of request headers whose names hold underscores.
    pub headers_with_underscores: UnderscoreHeaders,
}

/// One listener to start.
#[derive(Debug, Clone)]
pub struct Listener {
    /// The address to bind.
    pub addr: SocketAddr,
    /// TLS on it, or cleartext.
    pub tls: Option<Arc<TlsEndpoint>>,
    /// Its connections, open and refused (for the metrics).
    pub connections: Arc<ConnectionStats>,
}

impl Listener {
    /// A cleartext listener on `addr`.
    pub fn plain(addr: SocketAddr) -> Self {
        Self { addr, tls: None, connections: Arc::default() }
    }

    /// A TLS listener on `addr`.
    pub fn tls(addr: SocketAddr, tls: Arc<TlsEndpoint>) -> Self {
        Self { tls: Some(tls), ..Self::plain(addr) }
    }

    /// Whether `other` is configured the same (address, TLS settings; the
    /// certificates' contents are reloaded apart).
    fn same_as(&self, other: &Self) -> bool {
        self.addr == other.addr
            && self.tls.as_ref().map(|tls| tls.spec()) == other.tls.as_ref().map(|tls| tls.spec())
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tls {
            None => write!(f, "{}", self.addr),
            Some(_) => write!(f, "{} (TLS)", self.addr),
        }
    }
}

/// Every listener of a config, as it is bound.
#[derive(Debug, Clone)]
pub struct ListenerSettings {
    /// The gateway's listeners (`listen`, or `listeners`).
    pub listeners: Vec<Listener>,
    /// The admin listener's address (`admin.listen`), if there is one.
    pub admin_listen: Option<SocketAddr>,
    /// The bearer token of the admin API (`admin.token_file`), if any.
    pub admin_token: Option<AdminToken>,
    /// The limits on the request head (`limits.*` of the head).
    pub head: HeadLimits,
    /// How the listeners stop (`shutdown.delay`, `shutdown.drain`).
    pub shutdown: ShutdownSettings,
    /// How requests are observed (metrics, access log, traces).
    pub observe: ObserveSettings,
}

/// One listener setting that differs between two configs, with the value
/// before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerChange {
    /// `listen` or `listeners`: an address or a TLS setting, each side listed.
    Listen(String, String),
    /// `admin.listen`, added, removed or moved.
    AdminListen(Option<SocketAddr>, Option<SocketAddr>),
    /// `admin.token_file`: whether a token was set before and after (the
    /// token itself is never shown).
    AdminToken(bool, bool),
    /// `limits.max_connections`.
    MaxConnections(usize, usize),
    /// `limits.max_header_bytes`.
    MaxHeaderBytes(usize, usize),
    /// `limits.header_read_timeout`.
    HeaderReadTimeout(Duration, Duration),
    /// `limits.max_concurrent_streams`.
    MaxConcurrentStreams(u32, u32),
    /// `limits.max_headers`.
    MaxHeaders(usize, usize),
    /// `limits.headers_with_underscores`.
    HeadersWithUnderscores(UnderscoreHeaders, UnderscoreHeaders),
    /// `shutdown.delay`.
    ShutdownDelay(Duration, Duration),
    /// `shutdown.drain`.
    ShutdownDrain(Duration, Duration),
    /// A setting of the observers (`admin.metrics`, `access_log.*`,
    /// `tracing.*`): its key, and its value before and after.
    Observe(&'static str, String, String),
}

impl ListenerSettings {
    /// What `next` changes, in the order above; empty when nothing does.
    pub fn changes(&self, next: &Self) -> Vec<ListenerChange> {
        let (before, after) = (&self.head, &next.head);
        [
            self.listeners_differ(next)
                .then(|| ListenerChange::Listen(list(&self.listeners), list(&next.listeners))),
            (self.admin_listen != next.admin_listen)
                .then_some(ListenerChange::AdminListen(self.admin_listen, next.admin_listen)),
            (self.admin_token != next.admin_token).then_some(ListenerChange::AdminToken(
                self.admin_token.is_some(),
                next.admin_token.is_some(),
            )),
            (before.max_connections != after.max_connections)
                .then_some(ListenerChange::MaxConnections(before.max_connections, after.max_connections)),
            (before.max_header_bytes != after.max_header_bytes)
                .then_some(ListenerChange::MaxHeaderBytes(before.max_header_bytes, after.max_header_bytes)),
            (before.header_read_timeout != after.header_read_timeout).then_some(
                ListenerChange::HeaderReadTimeout(before.header_read_timeout, after.header_read_timeout),
            ),
            (before.max_concurrent_streams != after.max_concurrent_streams).then_some(
                ListenerChange::MaxConcurrentStreams(
                    before.max_concurrent_streams,
                    after.max_concurrent_streams,
                ),
            ),
            (before.max_headers != after.max_headers)
                .then_some(ListenerChange::MaxHeaders(before.max_headers, after.max_headers)),
            (before.headers_with_underscores != after.headers_with_underscores).then_some(
                ListenerChange::HeadersWithUnderscores(
                    before.headers_with_underscores,
                    after.headers_with_underscores,
                ),
            ),
            (self.shutdown.delay != next.shutdown.delay)
                .then_some(ListenerChange::ShutdownDelay(self.shutdown.delay, next.shutdown.delay)),
            (self.shutdown.drain != next.shutdown.drain)
                .then_some(ListenerChange::ShutdownDrain(self.shutdown.drain, next.shutdown.drain)),
        ]
        .into_iter()
        .flatten()
        .chain(
            self.observe
                .changes(&next.observe)
                .into_iter()
                .map(|(key, before, after)| ListenerChange::Observe(key, before, after)),
        )
        .collect()
    }

    fn listeners_differ(&self, next: &Self) -> bool {
        self.listeners.len() != next.listeners.len()
            || self.listeners.iter().zip(&next.listeners).any(|(before, after)| !before.same_as(after))
    }
}

/// `127.0.0.1:8080, 0.0.0.0:8443 (TLS)`.
fn list(listeners: &[Listener]) -> String {
    listeners.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl ListenerChange {
    /// The config key that changed.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Listen(..) => "listen",
            Self::AdminListen(..) => "admin.listen",
            Self::AdminToken(..) => "admin.token_file",
            Self::MaxConnections(..) => "limits.max_connections",
            Self::MaxHeaderBytes(..) => "limits.max_header_bytes",
            Self::HeaderReadTimeout(..) => "limits.header_read_timeout",
            Self::MaxConcurrentStreams(..) => "limits.max_concurrent_streams",
            Self::MaxHeaders(..) => "limits.max_headers",
            Self::HeadersWithUnderscores(..) => "limits.headers_with_underscores",
            Self::ShutdownDelay(..) => "shutdown.delay",
            Self::ShutdownDrain(..) => "shutdown.drain",
            Self::Observe(key, ..) => key,
        }
    }
}

/// `listen changed: 127.0.0.1:8080 → 0.0.0.0:8080`.
impl fmt::Display for ListenerChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = |addr: &Option<SocketAddr>| addr.map_or_else(|| "none".to_owned(), |a| a.to_string());
        let (before, after) = match self {
            Self::Listen(before, after) | Self::Observe(_, before, after) => (before.clone(), after.clone()),
            Self::AdminListen(before, after) => (address(before), address(after)),
            Self::AdminToken(before, after) => {
                let token = |set: bool| if set { "a token" } else { "none" };
                let after = if *before && *after { "another token" } else { token(*after) };
                (token(*before).to_owned(), after.to_owned())
            }
            Self::MaxConnections(before, after) | Self::MaxHeaderBytes(before, after) => {
                (before.to_string(), after.to_string())
            }
            Self::HeaderReadTimeout(before, after)
            | Self::ShutdownDelay(before, after)
            | Self::ShutdownDrain(before, after) => (format!("{before:?}"), format!("{after:?}")),
            Self::MaxConcurrentStreams(before, after) => (before.to_string(), after.to_string()),
            Self::MaxHeaders(before, after) => (before.to_string(), after.to_string()),
            Self::HeadersWithUnderscores(before, after) => (format!("{before:?}"), format!("{after:?}")),
        };
        write!(f, "{} changed: {before} → {after}", self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ListenerSettings {
        ListenerSettings {
            listeners: vec![Listener::plain("127.0.0.1:8080".parse().unwrap())],
            admin_listen: None,
            admin_token: None,
            head: HeadLimits {
                max_connections: 10_000,
                max_header_bytes: 65_536,
                header_read_timeout: Duration::from_secs(10),
                max_concurrent_streams: 100,
                max_headers: 100,
                headers_with_underscores: UnderscoreHeaders::Drop,
            },
            shutdown: ShutdownSettings::default(),
            observe: ObserveSettings::default(),
        }
    }

    #[test]
    fn the_same_settings_change_nothing() {
        assert_eq!(settings().changes(&settings()), []);
    }

    #[test]
    fn every_setting_that_differs_is_reported_with_its_key_and_values() {
        let before = settings();
        let after = ListenerSettings {
            listeners: vec![Listener::plain("0.0.0.0:8080".parse().unwrap())],
            admin_listen: Some("127.0.0.1:9901".parse().unwrap()),
            admin_token: Some(AdminToken::new("t")),
            head: HeadLimits {
                max_connections: 5,
                max_header_bytes: 1024,
                header_read_timeout: Duration::from_millis(500),
                max_concurrent_streams: 10,
                max_headers: 20,
                headers_with_underscores: UnderscoreHeaders::Refuse,
            },
            shutdown: ShutdownSettings { delay: Duration::from_secs(5), drain: Duration::from_secs(60) },
            observe: ObserveSettings { metrics: false, access_log: None, otlp: None },
        };
        let changes: Vec<String> = before.changes(&after).iter().map(ToString::to_string).collect();
        assert_eq!(
            changes,
            [
                "listen changed: 127.0.0.1:8080 → 0.0.0.0:8080",
                "admin.listen changed: none → 127.0.0.1:9901",
                "admin.token_file changed: none → a token",
                "limits.max_connections changed: 10000 → 5",
                "limits.max_header_bytes changed: 65536 → 1024",
                "limits.header_read_timeout changed: 10s → 500ms",
                "limits.max_concurrent_streams changed: 100 → 10",
                "limits.max_headers changed: 100 → 20",
                "limits.headers_with_underscores changed: Drop → Refuse",
                "shutdown.delay changed: 0ns → 5s",
                "shutdown.drain changed: 30s → 60s",
                "admin.metrics changed: true → false",
            ]
        );
        let removed = after.changes(&ListenerSettings { admin_listen: None, ..after.clone() });
        assert_eq!(removed, [ListenerChange::AdminListen(after.admin_listen, None)]);
        assert_eq!(removed[0].key(), "admin.listen");
    }

    #[test]
    fn one_head_limit_changed_is_the_only_change() {
        let before = settings();
        let after = ListenerSettings {
            head: HeadLimits { max_concurrent_streams: 200, ..before.head },
            ..before.clone()
        };
        assert_eq!(before.changes(&after), [ListenerChange::MaxConcurrentStreams(100, 200)]);
    }
}
