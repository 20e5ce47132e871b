//! Which certificate a TLS client gets: the one served for the exact name
//! it asked for (SNI), else for the wildcard of that name's parent, else
//! the default one (also for clients that send no name). The table is
//! swapped whole when the certificates are reloaded; a handshake reads it
//! once, with no lock.

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;
use rustls::{
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

use super::certificates::{CertificateError, LoadedCertificate, ServerName};

/// The certificates of a listener, by name.
#[derive(Debug)]
pub(super) struct CertificateTable {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// By the suffix after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl CertificateTable {
    /// Builds the table; `loaded` pairs each certificate with its cert file
    /// (for errors). `default` is the index of the default certificate.
    pub(super) fn new(
        loaded: Vec<(PathBuf, LoadedCertificate)>,
        default: usize,
    ) -> Result<Self, CertificateError> {
        let mut owners: HashMap<ServerName, PathBuf> = HashMap::new();
        let (mut exact, mut wildcard) = (HashMap::new(), HashMap::new());
        let mut default_key = None;
        for (index, (file, certificate)) in loaded.into_iter().enumerate() {
            for name in certificate.names {
                if let Some(first) = owners.get(&name) {
                    if *first == file {
                        continue;
                    }
                    return Err(CertificateError::SameName {
                        name: name.to_string(),
                        first: first.clone(),
                        second: file,
                    });
                }
                owners.insert(name.clone(), file.clone());
                match name {
                    ServerName::Exact(name) => exact.insert(name, certificate.key.clone()),
                    ServerName::Wildcard(suffix) => wildcard.insert(suffix, certificate.key.clone()),
                };
            }
            if index == default || default_key.is_none() {
                default_key = Some(certificate.key);
            }
        }
        let default = default_key.ok_or(CertificateError::NoCertificate)?;
        Ok(Self { exact, wildcard, default })
    }

    /// The certificate for a client that asked for `name` (lowercase, as
    /// rustls passes it).
    fn pick(&self, name: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = name else { return &self.default };
        if let Some(key) = self.exact.get(name) {
            return key;
        }
        name.split_once('.').and_then(|(_, parent)| self.wildcard.get(parent)).unwrap_or(&self.default)
    }
}

/// rustls's certificate resolver over the current table.
#[derive(Debug)]
pub(super) struct SniResolver {
    table: ArcSwap<CertificateTable>,
}

impl SniResolver {
    pub(super) fn new(table: CertificateTable) -> Self {
        Self { table: ArcSwap::from_pointee(table) }
    }

    /// Serves `table` to every handshake from now on.
    pub(super) fn replace(&self, table: CertificateTable) {
        self.table.store(Arc::new(table));
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = client_hello.server_name();
        let table = self.table.load();
        // rustls lowercases the name; one sent otherwise is lowercased here.
        let key = match name {
            Some(name) if name.bytes().any(|b| b.is_ascii_uppercase()) => {
                table.pick(Some(&name.to_ascii_lowercase())).clone()
            }
            _ => table.pick(name).clone(),
        };
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use rustls::{crypto::ring::sign::any_supported_type, pki_types::PrivateKeyDer};

    use super::*;

    fn key(tag: u8) -> Arc<CertifiedKey> {
        let pair = rcgen::KeyPair::generate().unwrap();
        let key = PrivateKeyDer::try_from(pair.serialize_der()).unwrap();
        let cert = rustls::pki_types::CertificateDer::from(vec![tag]);
        Arc::new(CertifiedKey::new(vec![cert], any_supported_type(&key).unwrap()))
    }

    fn certificate(tag: u8, names: &[&str]) -> (PathBuf, LoadedCertificate) {
        let names = names.iter().map(|name| ServerName::parse(name).unwrap()).collect();
        (PathBuf::from(format!("{tag}.pem")), LoadedCertificate { key: key(tag), names })
    }

    fn tag(key: &CertifiedKey) -> u8 {
        key.cert[0].as_ref()[0]
    }

    #[test]
    fn exact_then_wildcard_then_default() {
        let table = CertificateTable::new(
            vec![
                certificate(1, &["api.example.com"]),
                certificate(2, &["*.example.com"]),
                certificate(3, &[]),
            ],
            2,
        )
        .unwrap();
        assert_eq!(tag(table.pick(Some("api.example.com"))), 1);
        assert_eq!(tag(table.pick(Some("www.example.com"))), 2);
        assert_eq!(tag(table.pick(Some("a.www.example.com"))), 3, "a wildcard covers one label");
        assert_eq!(tag(table.pick(Some("example.com"))), 3);
        assert_eq!(tag(table.pick(None)), 3);
    }

    #[test]
    fn one_name_for_two_certificates_is_refused() {
        let error = CertificateTable::new(vec![certificate(1, &["a.com"]), certificate(2, &["A.com"])], 0)
            .unwrap_err();
        assert_eq!(error.to_string(), "1.pem and 2.pem are both served for a.com");
    }
}
