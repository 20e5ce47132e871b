//! TLS towards an upstream's endpoints (`upstreams.<name>.tls`): one shape
//! for both protocols, one rustls `ClientConfig` built from it. gRPC
//! connections (src/upstream/connection/) offer `h2` alone by ALPN; the
//! pass-through proxy's client sets its own ALPN on the same config.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use hyper_rustls::ConfigBuilderExt;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};

/// TLS towards an upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM file of the CA certificates to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// A client certificate to present (mTLS).
    pub identity: Option<ClientIdentity>,
    /// The name the endpoint's certificate must carry (and SNI), instead of
    /// the endpoint's host.
    pub server_name: Option<String>,
}

/// A client certificate and its key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// TLS settings that cannot be turned into a client config.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {}: {source}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The system's root certificates could not be loaded.
    #[error("cannot load the system's root certificates: {0}")]
    NativeRoots(std::io::Error),
    /// rustls refused the settings (a bad CA, a key that does not match).
    #[error("TLS settings refused: {0}")]
    Refused(#[from] rustls::Error),
}

/// The rustls client config of `settings`: it trusts the CA file, or the
/// system's roots without one, and presents the client certificate if any.
/// Without settings nothing is trusted (every handshake fails). Reads the
/// PEM files now.
pub fn client_config(settings: Option<&TlsSettings>) -> Result<ClientConfig, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?;
    let Some(settings) = settings else {
        return Ok(builder.with_root_certificates(RootCertStore::empty()).with_no_client_auth());
    };
    let builder = match &settings.ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certificates(path)? {
                roots.add(cert)?;
            }
            builder.with_root_certificates(roots)
        }
        None => builder.with_native_roots().map_err(TlsConfigError::NativeRoots)?,
    };
    Ok(match &settings.identity {
        Some(identity) => {
            let chain = read_certificates(&identity.cert_file)?;
            let key = PrivateKeyDer::from_pem_file(&identity.key_file)
                .map_err(|source| TlsConfigError::Pem { path: identity.key_file.clone(), source })?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    })
}

/// Every certificate in a PEM file; at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let pem = |source| TlsConfigError::Pem { path: path.to_path_buf(), source };
    let certificates =
        CertificateDer::pem_file_iter(path).map_err(pem)?.collect::<Result<Vec<_>, _>>().map_err(pem)?;
    if certificates.is_empty() {
        return Err(pem(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certificates)
}
