//! TLS termination on a listener (rustls): certificates chosen by the
//! name the client asks for, HTTP/2 or HTTP/1.1 by ALPN on one port,
//! TLS 1.2 and 1.3, client certificates verified against a CA (mTLS), and
//! certificates reloaded when their files change, without a restart and
//! without touching open connections.
//!
//! A connection's session (version, SNI, ALPN, the client certificate's
//! names) goes with each of its requests as a [`crate::tls_info::TlsInfo`].
//! This room terminates TLS; it does not know what the requests are for.

mod certificates;
mod client_auth;
mod handshake;
mod load;
mod reload;
mod resolver;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use rustls::crypto::CryptoProvider;
use tokio_rustls::TlsAcceptor;

pub use certificates::{CertificateError, CertificateFiles, ServerName};
pub(super) use handshake::serve;
pub use load::{TlsFile, TlsLoadError, TlsSpec};

use resolver::{CertificateTable, SniResolver};

/// A TLS listener's settings and state: the acceptor, the certificates it
/// serves and the files they come from.
pub struct TlsEndpoint {
    acceptor: TlsAcceptor,
    resolver: Arc<SniResolver>,
    certificates: Arc<CertificateSet>,
    stats: Arc<TlsStats>,
    warnings: handshake::WarnLimiter,
    /// What it was built from, to tell whether a new config changes it.
    spec: TlsSpec,
}

impl std::fmt::Debug for TlsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsEndpoint").field("certificates", &self.certificates.files.len()).finish()
    }
}

/// The certificates of a listener, as configured: read again on reload.
#[derive(Debug)]
struct CertificateSet {
    files: Vec<CertificateFiles>,
    /// The index of the default certificate.
    default: usize,
    provider: Arc<CryptoProvider>,
}

impl CertificateSet {
    /// Reads every certificate and builds the table served from.
    fn load(&self) -> Result<CertificateTable, CertificateError> {
        let loaded = self
            .files
            .iter()
            .map(|files| Ok((files.cert_file.clone(), files.load(&self.provider)?)))
            .collect::<Result<Vec<_>, CertificateError>>()?;
        CertificateTable::new(loaded, self.default)
    }
}

/// Counters of a TLS listener, for metrics.
#[derive(Debug, Default)]
pub struct TlsStats {
    reloads: AtomicU64,
    failed_reloads: AtomicU64,
    handshake_failures: AtomicU64,
}

impl TlsStats {
    /// Certificate reloads that took effect.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Certificate reloads refused (the previous certificates kept serving).
    pub fn failed_reloads(&self) -> u64 {
        self.failed_reloads.load(Ordering::Relaxed)
    }

    /// Handshakes that failed, timed out, or were plain HTTP.
    pub fn handshake_failures(&self) -> u64 {
        self.handshake_failures.load(Ordering::Relaxed)
    }
}

impl TlsEndpoint {
    /// Its counters.
    pub fn stats(&self) -> &Arc<TlsStats> {
        &self.stats
    }

    /// The settings it was built from.
    pub fn spec(&self) -> &TlsSpec {
        &self.spec
    }
}
