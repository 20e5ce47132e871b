//! A listener's `tls:` from the config, checked and loaded: every
//! certificate read and matched with its key, names parsed, the client CA
//! read. Each problem is reported with its place and the file it is about
//! (`listeners[1].tls.certificates[0].key_file: ...`).

use std::{path::Path, sync::Arc, time::Duration};

use rustls::{ServerConfig, version};
use tokio_rustls::TlsAcceptor;

use super::{
    CertificateError, CertificateSet, TlsEndpoint, TlsStats,
    certificates::CertificateFiles,
    certificates::ServerName,
    client_auth,
    handshake::WarnLimiter,
    resolver::{CertificateTable, SniResolver},
};
use crate::{
    config::{CertificateConfig, ServerTlsConfig},
    runtime::{CompileErrors, duration},
};

const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// What ALPN offers, in the server's order of preference.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The TLS endpoint of the listener at `place`; `None` (with the problems
/// in `errors`) when something is wrong.
pub(in crate::server) fn endpoint_of(
    config: &ServerTlsConfig,
    base_dir: &Path,
    place: &str,
    errors: &mut CompileErrors,
) -> Option<TlsEndpoint> {
    let before = errors.issues.len();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let poll_interval =
        duration(config.poll_interval, DEFAULT_POLL_INTERVAL, &format!("{place}.poll_interval"), errors);
    let defaults: Vec<usize> =
        config.certificates.iter().enumerate().filter(|(_, c)| c.default).map(|(i, _)| i).collect();
    if let [_, second, ..] = defaults[..] {
        errors.push(
            format!("{place}.certificates[{second}].default"),
            format!("certificates[{}] is the default already; only one can be", defaults[0]),
        );
    }
    let files: Vec<CertificateFiles> = config
        .certificates
        .iter()
        .enumerate()
        .map(|(index, certificate)| {
            files_of(certificate, base_dir, &format!("{place}.certificates[{index}]"), errors)
        })
        .collect();
    // Each certificate alone, so that each problem gets its place.
    let mut loaded = Vec::with_capacity(files.len());
    for (index, files) in files.iter().enumerate() {
        match files.load(&provider) {
            Ok(certificate) => loaded.push((files.cert_file.clone(), certificate)),
            Err(error) => {
                errors.push(format!("{place}.certificates[{index}].{}", key_of(files, &error)), error)
            }
        }
    }
    let verifier = config.client_auth.as_ref().and_then(|client_auth| {
        client_auth::verifier(client_auth.mode, &base_dir.join(&client_auth.ca_file), provider.clone())
            .map_err(|error| errors.push(format!("{place}.client_auth.ca_file"), error))
            .ok()
    });
    if errors.issues.len() > before {
        return None;
    }
    let default = defaults.first().copied().unwrap_or(0);
    // Errors left: two certificates for one name, or none at all.
    let table = CertificateTable::new(loaded, default)
        .map_err(|error| errors.push(format!("{place}.certificates"), error))
        .ok()?;
    let certificates = Arc::new(CertificateSet { files, default, provider: provider.clone() });
    let resolver = Arc::new(SniResolver::new(table));
    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])
        .map_err(|error| errors.push(place, format!("cannot set up TLS: {error}")))
        .ok()?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut server = builder.with_cert_resolver(resolver.clone());
    server.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
    Some(TlsEndpoint {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        resolver,
        certificates,
        poll_interval,
        stats: Arc::new(TlsStats::default()),
        warnings: WarnLimiter::new(),
    })
}

fn files_of(
    config: &CertificateConfig,
    base_dir: &Path,
    place: &str,
    errors: &mut CompileErrors,
) -> CertificateFiles {
    let mut server_names = Vec::with_capacity(config.server_names.len());
    for (index, name) in config.server_names.iter().enumerate() {
        match ServerName::parse(name) {
            Some(name) => server_names.push(name),
            None => errors.push(
                format!("{place}.server_names[{index}]"),
                format!("{name:?} is not a host name or a wildcard of one label (*.example.com)"),
            ),
        }
    }
    CertificateFiles {
        cert_file: base_dir.join(&config.cert_file),
        key_file: base_dir.join(&config.key_file),
        server_names,
    }
}

/// The config key a certificate's problem is about.
fn key_of(files: &CertificateFiles, error: &CertificateError) -> &'static str {
    match error {
        CertificateError::Read { path, .. } | CertificateError::Pem { path, .. }
            if *path == files.cert_file =>
        {
            "cert_file"
        }
        _ => "key_file",
    }
}
