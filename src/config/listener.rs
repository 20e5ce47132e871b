//! The gateway's listeners as written in the config (`listeners:`): an
//! address each, cleartext or TLS, with the TLS certificates (PEM files),
//! and client certificates (mTLS). Paths stay paths here; the files are
//! read when the listeners are built.

use std::path::PathBuf;

use serde::Deserialize;

use super::units::Duration;

/// One listener: `{ listen: 0.0.0.0:8443, tls: {...} }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// The address, e.g. `0.0.0.0:8443`.
    pub listen: String,
    /// TLS on this listener (default: cleartext).
    pub tls: Option<ServerTlsConfig>,
}

/// TLS termination on a listener: HTTP/2 and HTTP/1.1 by ALPN, TLS 1.2 and 1.3.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// The certificates, chosen by the name the client asks for (SNI).
    pub certificates: Vec<CertificateConfig>,
    /// Client certificates (mTLS); default: none asked for.
    pub client_auth: Option<ClientAuthConfig>,
    /// How often the certificate files are checked for changes, besides
    /// the file-system events that trigger a check at once (default 10s).
    pub poll_interval: Option<Duration>,
}

/// One certificate and its key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// PEM file of the certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM file of its private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// The names it is served for: exact (`api.example.com`) or one
    /// wildcard label (`*.example.com`). Default: the certificate's DNS names.
    #[serde(default)]
    pub server_names: Vec<String>,
    /// Served to clients that send no server name, or one that no
    /// certificate has (default: the first certificate).
    #[serde(default)]
    pub default: bool,
}

/// Client certificates, verified against a CA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthConfig {
    /// `required`: a client without a valid certificate is refused in the
    /// handshake; `optional` (the default): a certificate is asked for, and
    /// verified when given.
    #[serde(default)]
    pub mode: ClientAuthMode,
    /// PEM file of the CA certificates client certificates must chain to.
    pub ca_file: PathBuf,
}

/// Whether a client must show a certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMode {
    /// Asked for; verified when given.
    #[default]
    Optional,
    /// A client without one is refused.
    Required,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_auth_is_optional_unless_required() {
        let config: ClientAuthConfig = serde_saphyr::from_str("{ ca_file: ca.pem }").unwrap();
        assert_eq!(config.mode, ClientAuthMode::Optional);
        let config: ClientAuthConfig = serde_saphyr::from_str("{ mode: required, ca_file: ca.pem }").unwrap();
        assert_eq!(config.mode, ClientAuthMode::Required);
        assert!(serde_saphyr::from_str::<ClientAuthConfig>("{ mode: sometimes, ca_file: ca.pem }").is_err());
    }
}
