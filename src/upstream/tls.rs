//! TLS towards an upstream's endpoints (`upstreams.<name>.tls`): one shape
//! for both protocols. gRPC channels take it here, as tonic's
//! `ClientTlsConfig`; the pass-through proxy's client builds its own rustls
//! config from the same settings.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

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

/// A TLS file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct TlsFileError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl TlsSettings {
    /// tonic's TLS config for gRPC channels: reads the PEM files now (tonic
    /// parses them when a channel is built). Only HTTP/2 is offered by ALPN.
    pub(super) fn grpc_config(&self) -> Result<ClientTlsConfig, TlsFileError> {
        let mut config = ClientTlsConfig::new();
        config = match &self.ca_file {
            Some(path) => config.ca_certificate(Certificate::from_pem(read(path)?)),
            None => config.with_native_roots(),
        };
        if let Some(identity) = &self.identity {
            config =
                config.identity(Identity::from_pem(read(&identity.cert_file)?, read(&identity.key_file)?));
        }
        if let Some(name) = &self.server_name {
            config = config.domain_name(name.clone());
        }
        Ok(config)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|source| TlsFileError { path: path.to_path_buf(), source })
}
