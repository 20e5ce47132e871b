//! One certificate of a TLS listener: its chain and private key read from
//! PEM files, checked to belong together, and the names it is served for.
//! Reading is all this file does: choosing among certificates is the
//! resolver's job, noticing changed files the reloader's.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use rustls::{
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    sign::CertifiedKey,
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Where one certificate is read from, and the names configured for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    /// The chain, leaf first.
    pub cert_file: PathBuf,
    /// Its private key.
    pub key_file: PathBuf,
    /// The names it is served for; empty: the certificate's DNS names.
    pub server_names: Vec<ServerName>,
}

/// A name a certificate is served for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerName {
    /// Exactly this name (lowercase).
    Exact(String),
    /// Any name of one more label in front of this suffix (`*.example.com`
    /// holds `example.com`).
    Wildcard(String),
}

/// A certificate that cannot be loaded; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not PEM, or holds nothing of what is wanted.
    #[error("{}: {message}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The key cannot be used, or does not belong to the certificate.
    #[error("{} does not go with {}: {message}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls says.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Setup(String),
    /// A listener without certificates.
    #[error("a TLS listener needs at least one certificate")]
    NoCertificate,
    /// Two certificates are configured for one name.
    #[error("{} and {} are both served for {name}", first.display(), second.display())]
    SameName {
        /// The name.
        name: String,
        /// One certificate file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
}

/// A certificate read and checked, with the names it is served for.
#[derive(Debug)]
pub(super) struct LoadedCertificate {
    /// The chain and the signing key.
    pub key: Arc<CertifiedKey>,
    /// The names (the configured ones, else the certificate's DNS names).
    pub names: Vec<ServerName>,
}

impl ServerName {
    /// Parses `api.example.com` or `*.example.com`; `None` for anything
    /// else (an empty name, a wildcard that is not a whole first label).
    pub fn parse(text: &str) -> Option<Self> {
        let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = |name: &str| {
            !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        };
        match name.strip_prefix("*.") {
            Some(suffix) if valid(suffix) => Some(Self::Wildcard(suffix.to_owned())),
            None if valid(&name) => Some(Self::Exact(name)),
            _ => None,
        }
    }
}

impl std::fmt::Display for ServerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

impl CertificateFiles {
    /// Reads and checks the certificate and its key.
    pub(super) fn load(&self, provider: &CryptoProvider) -> Result<LoadedCertificate, CertificateError> {
        let chain = read_chain(&self.cert_file)?;
        let key = read_key(&self.key_file)?;
        let mismatch = |error: rustls::Error| CertificateError::Mismatch {
            cert: self.cert_file.clone(),
            key: self.key_file.clone(),
            message: error.to_string(),
        };
        let names = if self.server_names.is_empty() {
            dns_names(&self.cert_file, &chain[0])?
        } else {
            self.server_names.clone()
        };
        let key = CertifiedKey::from_der(chain, key, provider).map_err(mismatch)?;
        Ok(LoadedCertificate { key: Arc::new(key), names })
    }

    /// When the two files were last changed (`None` for one that cannot
    /// be read), to tell whether they changed since.
    pub(super) fn stamps(&self) -> [Option<(SystemTime, u64)>; 2] {
        let stamp = |path: &Path| {
            let metadata = std::fs::metadata(path).ok()?;
            Some((metadata.modified().ok()?, metadata.len()))
        };
        [stamp(&self.cert_file), stamp(&self.key_file)]
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CertificateError> {
    std::fs::read(path).map_err(|source| CertificateError::Read { path: path.to_path_buf(), source })
}

fn pem_error(path: &Path, message: impl Into<String>) -> CertificateError {
    CertificateError::Pem { path: path.to_path_buf(), message: message.into() }
}

/// The certificates of a PEM file, in order; at least one.
pub(super) fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let pem = read(path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(path, format!("not a valid PEM certificate file: {error}")))?;
    if chain.is_empty() {
        return Err(pem_error(path, "holds no certificate (no -----BEGIN CERTIFICATE----- block)"));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertificateError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| {
        pem_error(path, format!("holds no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {error}"))
    })
}

/// The DNS names of a certificate's subject alternative names.
fn dns_names(path: &Path, leaf: &CertificateDer<'_>) -> Result<Vec<ServerName>, CertificateError> {
    let (_, certificate) = X509Certificate::from_der(leaf)
        .map_err(|error| pem_error(path, format!("the first certificate cannot be parsed: {error}")))?;
    let sans = certificate
        .subject_alternative_name()
        .map_err(|error| pem_error(path, format!("bad subject alternative names: {error}")))?;
    let names = sans.into_iter().flat_map(|sans| sans.value.general_names.iter());
    Ok(names
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => ServerName::parse(dns),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_exact_and_one_wildcard_label() {
        assert_eq!(ServerName::parse("API.example.com."), Some(ServerName::Exact("api.example.com".into())));
        assert_eq!(ServerName::parse("*.example.com"), Some(ServerName::Wildcard("example.com".into())));
        for bad in ["", "*", "*.", "a.*.com", "api..com", "a b.com", "*example.com"] {
            assert_eq!(ServerName::parse(bad), None, "{bad:?}");
        }
        assert_eq!(ServerName::Wildcard("example.com".into()).to_string(), "*.example.com");
    }
}
