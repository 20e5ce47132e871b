//! TLS for the listener tests: a test CA (rcgen) that writes PEM files, a
//! gateway started with its configured listeners, and a client
//! (tokio-rustls + hyper) that reports which certificate it was shown.

use std::{net::SocketAddr, path::Path, path::PathBuf, sync::Arc};

use bytes::Bytes;
use http::{HeaderMap, Request, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use protogate::{
    compile,
    config::Config,
    gateway::Gateway,
    server::{self, RunningServer},
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::TcpStream;
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::{
        self, ClientConfig, RootCertStore,
        pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
    },
};

/// A CA and the directory its certificates are written to.
pub struct TestCa {
    ca: CertifiedIssuer<'static, KeyPair>,
    dir: tempfile::TempDir,
}

impl TestCa {
    /// A new CA, its certificate written to `ca.pem`.
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "protogate test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let this = Self { ca, dir: tempfile::tempdir().unwrap() };
        std::fs::write(this.path("ca.pem"), this.ca.pem()).unwrap();
        this
    }

    /// The path of `file` in the CA's directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Issues a certificate for `names` (DNS names or IP addresses) with
    /// the common name `common_name`, written to `<stem>.pem` and
    /// `<stem>.key` (the key first, then the certificate); returns it.
    pub fn issue(&self, stem: &str, common_name: &str, names: &[&str]) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        let certificate = params.signed_by(&key, &self.ca).unwrap();
        std::fs::write(self.path(&format!("{stem}.key")), key.serialize_pem()).unwrap();
        std::fs::write(self.path(&format!("{stem}.pem")), certificate.pem()).unwrap();
        certificate.der().clone()
    }

    /// A client config trusting this CA, offering `alpn`, presenting the
    /// certificate `<identity>.pem` when given.
    pub fn client(&self, alpn: &[&str], identity: Option<&str>) -> TlsClient {
        self.client_of_versions(rustls::DEFAULT_VERSIONS, alpn, identity)
    }

    /// The same, speaking only the protocol `versions`.
    pub fn client_of_versions(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&str],
        identity: Option<&str>,
    ) -> TlsClient {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match identity {
            None => builder.with_no_client_auth(),
            Some(stem) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{stem}.pem")))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{stem}.key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        };
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        TlsClient { connector: TlsConnector::from(Arc::new(config)) }
    }
}

/// A TLS client of the gateway.
pub struct TlsClient {
    connector: TlsConnector,
}

/// An answer, and what the TLS session was.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The HTTP version of the answer.
    pub version: Version,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body as JSON (`null` when it is not JSON).
    pub json: serde_json::Value,
    /// The certificate the server presented.
    pub peer: CertificateDer<'static>,
}

impl TlsClient {
    /// A TLS connection to `addr`, asking for `server_name` (an IP address
    /// sends no SNI).
    pub async fn connect(
        &self,
        addr: SocketAddr,
        server_name: &str,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from(server_name.to_owned()).unwrap();
        self.connector.connect(name, tcp).await
    }

    /// GET `path` on a new connection; HTTP/2 when ALPN chose it.
    pub async fn get(&self, addr: SocketAddr, server_name: &str, path: &str) -> Result<Reply, String> {
        let stream = self.connect(addr, server_name).await.map_err(|e| e.to_string())?;
        let peer = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
        let http2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let request = Request::get(format!("https://{server_name}{path}"))
            .header("host", server_name)
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = if http2 {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            let (mut parts, body) = request.into_parts();
            parts.headers.remove("host");
            sender.send_request(Request::from_parts(parts, body)).await
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            let (mut parts, body) = request.into_parts();
            parts.uri = path.parse().unwrap();
            sender.send_request(Request::from_parts(parts, body)).await
        }
        .map_err(|e| format!("{e:?}"))?;
        let (status, version, headers) =
            (response.status().as_u16(), response.version(), response.headers().clone());
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        Ok(Reply { status, version, headers, json, peer })
    }
}

/// The gateway of `yaml` (paths relative to `base_dir`) on every listener
/// it configures.
pub async fn start_gateway(yaml: &str, base_dir: &Path) -> Vec<RunningServer> {
    let config = Config::from_yaml(yaml, "test config").unwrap();
    let compiled = compile::compile(&config, base_dir, &[])
        .await
        .unwrap_or_else(|errors| panic!("the test config does not compile:\n{errors}"));
    let gateway = Arc::new(Gateway::new(compiled.runtime));
    let mut running = Vec::new();
    for listener in compiled.listeners.listeners {
        running
            .push(server::start_listener(listener, compiled.listeners.head, gateway.clone()).await.unwrap());
    }
    running
}
