//! The gateway's listeners from the config: `listen` (one cleartext
//! listener) or `listeners` (several, each cleartext or TLS), TLS files
//! loaded by the server's TLS room. Every problem with its place and file
//! (`listeners[1].tls.certificates[0].key_file: b.key does not go with a.pem`).

use std::{path::Path, sync::Arc, time::Duration};

use super::{
    CompileErrors, Place,
    settings::{address, duration},
};
use crate::{
    config::{CertificateConfig, Config, ServerTlsConfig},
    server::{
        Listener,
        tls::{CertificateFiles, ServerName, TlsEndpoint, TlsFile, TlsSpec},
    },
};

/// Where `listen` points when neither it nor `listeners` is set.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// The listeners of `config`, TLS certificates loaded (relative paths from
/// `base_dir`); the problems go to `errors`.
pub(super) fn listeners_of(config: &Config, base_dir: &Path, errors: &mut CompileErrors) -> Vec<Listener> {
    let mut listeners = Vec::new();
    if config.listen.is_some() && !config.listeners.is_empty() {
        let message = "set `listen` (one cleartext listener) or `listeners`, not both";
        errors.push(Place::root().key("listeners"), message);
    }
    if config.listeners.is_empty() {
        let text = config.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        if let Some(addr) = address(text, &Place::root().key("listen"), errors) {
            listeners.push(Listener::plain(addr));
        }
    }
    for (index, listener) in config.listeners.iter().enumerate() {
        let place = Place::root().key("listeners").index(index);
        let addr = address(&listener.listen, &place.key("listen"), errors);
        let tls = listener.tls.as_ref().map(|tls| endpoint_of(tls, base_dir, &place.key("tls"), errors));
        match (addr, tls) {
            (Some(addr), None) => listeners.push(Listener::plain(addr)),
            (Some(addr), Some(Some(tls))) => listeners.push(Listener::tls(addr, Arc::new(tls))),
            _ => {}
        }
    }
    listeners
}

/// The TLS of the listener at `place`, its files read; `None` (with the
/// problems in `errors`) when something is wrong.
fn endpoint_of(
    config: &ServerTlsConfig,
    base_dir: &Path,
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<TlsEndpoint> {
    let before = errors.issues.len();
    let poll_interval =
        duration(config.poll_interval, DEFAULT_POLL_INTERVAL, &place.key("poll_interval"), errors);
    let certificates_place = place.key("certificates");
    let defaults: Vec<usize> =
        config.certificates.iter().enumerate().filter(|(_, c)| c.default).map(|(i, _)| i).collect();
    if let [first, second, ..] = defaults[..] {
        errors.push(
            certificates_place.index(second).key("default"),
            format!("certificates[{first}] is the default already; only one can be"),
        );
    }
    let certificates = config
        .certificates
        .iter()
        .enumerate()
        .map(|(index, certificate)| files_of(certificate, base_dir, &certificates_place.index(index), errors))
        .collect();
    // The files are read even after a problem above, to report theirs too.
    let spec = TlsSpec {
        certificates,
        default: defaults.first().copied().unwrap_or(0),
        client_auth: config.client_auth.as_ref().map(|auth| (auth.mode, base_dir.join(&auth.ca_file))),
        poll_interval,
    };
    TlsEndpoint::load(spec)
        .map_err(|problems| {
            for problem in problems {
                let here = match problem.file {
                    TlsFile::Cert(index) => certificates_place.index(index).key("cert_file"),
                    TlsFile::Key(index) => certificates_place.index(index).key("key_file"),
                    TlsFile::Ca => place.key("client_auth").key("ca_file"),
                    TlsFile::Certificates => certificates_place.clone(),
                };
                errors.push(here, problem.error);
            }
        })
        .ok()
        .filter(|_| errors.issues.len() == before)
}

fn files_of(
    config: &CertificateConfig,
    base_dir: &Path,
    place: &Place,
    errors: &mut CompileErrors,
) -> CertificateFiles {
    let mut server_names = Vec::with_capacity(config.server_names.len());
    for (index, name) in config.server_names.iter().enumerate() {
        match ServerName::parse(name) {
            Some(name) => server_names.push(name),
            None => errors.push(
                place.key("server_names").index(index),
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
