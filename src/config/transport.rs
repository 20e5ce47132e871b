//! How an upstream is reached on the wire, as written in the config: TLS
//! (for `https://` endpoints) and gRPC compression.

use std::path::PathBuf;

use serde::Deserialize;

/// TLS towards an upstream's `https://` endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA certificates to trust (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// PEM file of a client certificate chain to present (mTLS); goes with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key; goes with `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The name the endpoints' certificates must carry, and the SNI sent
    /// (default: each endpoint's host).
    pub server_name: Option<String>,
}

/// How gRPC requests to an upstream are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompressionConfig {
    /// Not compressed (the default).
    #[default]
    None,
    /// gzip (the upstream must accept it).
    Gzip,
}
