//! TLS for the TLS row: a test CA and a server certificate for `localhost`
//! made with rcgen and written into the run's directory, and a client that
//! trusts only that CA and speaks HTTP/1.1 (ALPN `http/1.1`).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::configs::{ServerCert, Workdir};

/// The name the certificate is issued for and the client asks for (SNI).
const SERVER_NAME: &str = "localhost";

/// Makes the CA and the server certificate; returns the certificate's files
/// and a client that trusts the CA.
pub fn test_pki(workdir: &Workdir) -> anyhow::Result<(ServerCert, TlsDialer)> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "protogate bench CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![SERVER_NAME.to_owned(), "127.0.0.1".to_owned()])?;
    params.distinguished_name.push(DnType::CommonName, SERVER_NAME);
    let certificate = params.signed_by(&key, &ca)?;
    let cert = ServerCert {
        cert_file: workdir.write("server.pem", &certificate.pem())?,
        key_file: workdir.write("server.key", &key.serialize_pem())?,
    };

    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let dialer = TlsDialer {
        connector: TlsConnector::from(Arc::new(config)),
        server_name: ServerName::try_from(SERVER_NAME)?,
    };
    Ok((cert, dialer))
}

/// Opens TLS sessions to the gateway's TLS listener.
#[derive(Clone)]
pub struct TlsDialer {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl TlsDialer {
    /// The TLS session over `tcp`, after the handshake.
    pub async fn connect(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.server_name.clone(), tcp).await
    }
}
