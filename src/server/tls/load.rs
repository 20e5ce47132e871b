//! A TLS listener built from its [`TlsSpec`]: every certificate read and
//! matched with its key, the client CA read, rustls configured (ring, TLS
//! 1.3 and 1.2, ALPN `h2` then `http/1.1`). Each problem names the
//! certificate and the file it is about, for the compiler to place.

use std::{path::PathBuf, sync::Arc, time::Duration};

use rustls::{ServerConfig, version};
use tokio_rustls::TlsAcceptor;

use super::{
    CertificateError, CertificateFiles, CertificateSet, TlsEndpoint, TlsStats, client_auth,
    handshake::WarnLimiter,
    resolver::{CertificateTable, SniResolver},
};
use crate::config::ClientAuthMode;

/// What ALPN offers, in the server's order of preference.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A TLS listener as configured, paths resolved and names parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    /// The certificates, in the config's order.
    pub certificates: Vec<CertificateFiles>,
    /// The index of the default certificate.
    pub default: usize,
    /// Client certificates: whether required, and the CA file.
    pub client_auth: Option<(ClientAuthMode, PathBuf)>,
    /// How often the files are checked for changes.
    pub poll_interval: Duration,
}

/// Which file of a TLS listener a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// `certificates[i].cert_file`.
    Cert(usize),
    /// `certificates[i].key_file`.
    Key(usize),
    /// `client_auth.ca_file`.
    Ca,
    /// The certificates together (two for one name, or none).
    Certificates,
}

/// A TLS listener that cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct TlsLoadError {
    /// The file it is about.
    pub file: TlsFile,
    /// What is wrong.
    pub error: CertificateError,
}

impl TlsEndpoint {
    /// Reads the files of `spec` and builds the listener's TLS; every problem.
    pub fn load(spec: TlsSpec) -> Result<Self, Vec<TlsLoadError>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut problems = Vec::new();
        let mut loaded = Vec::with_capacity(spec.certificates.len());
        for (index, files) in spec.certificates.iter().enumerate() {
            match files.load(&provider) {
                Ok(certificate) => loaded.push((files.cert_file.clone(), certificate)),
                Err(error) => {
                    let file = match &error {
                        CertificateError::Read { path, .. } | CertificateError::Pem { path, .. }
                            if *path == files.cert_file =>
                        {
                            TlsFile::Cert(index)
                        }
                        _ => TlsFile::Key(index),
                    };
                    problems.push(TlsLoadError { file, error });
                }
            }
        }
        let verifier = spec.client_auth.as_ref().and_then(|(mode, ca_file)| {
            client_auth::verifier(*mode, ca_file, provider.clone())
                .map_err(|error| problems.push(TlsLoadError { file: TlsFile::Ca, error }))
                .ok()
        });
        if !problems.is_empty() {
            return Err(problems);
        }
        let table = CertificateTable::new(loaded, spec.default)
            .map_err(|error| vec![TlsLoadError { file: TlsFile::Certificates, error }])?;
        let resolver = Arc::new(SniResolver::new(table));
        // ring supports both versions: this cannot fail.
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .map_err(|error| {
                let error = CertificateError::Setup(error.to_string());
                vec![TlsLoadError { file: TlsFile::Certificates, error }]
            })?;
        let builder = match verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut server = builder.with_cert_resolver(resolver.clone());
        server.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            resolver,
            certificates: Arc::new(CertificateSet {
                files: spec.certificates.clone(),
                default: spec.default,
                provider,
            }),
            spec,
            stats: Arc::new(TlsStats::default()),
            warnings: WarnLimiter::new(),
        })
    }
}
