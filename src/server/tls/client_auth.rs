//! Client certificates (mTLS): the verifier that checks them against the
//! listener's CA during the handshake, and what a verified one names
//! (subject, common name, alternative names) for the requests that follow.

use std::{net::IpAddr, path::Path, sync::Arc};

use rustls::{
    RootCertStore,
    crypto::CryptoProvider,
    pki_types::CertificateDer,
    server::{WebPkiClientVerifier, danger::ClientCertVerifier},
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::certificates::{CertificateError, read_chain};
use crate::{
    config::ClientAuthMode,
    tls_info::{ClientCertificate, SanKind, SubjectAltName},
};

/// The verifier of a listener's client certificates.
pub(super) fn verifier(
    mode: ClientAuthMode,
    ca_file: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, CertificateError> {
    let mut roots = RootCertStore::empty();
    for certificate in read_chain(ca_file)? {
        roots.add(certificate).map_err(|error| CertificateError::Pem {
            path: ca_file.to_path_buf(),
            message: format!("a CA certificate cannot be used: {error}"),
        })?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match mode {
        ClientAuthMode::Required => builder,
        ClientAuthMode::Optional => builder.allow_unauthenticated(),
    };
    builder.build().map_err(|error| CertificateError::Pem {
        path: ca_file.to_path_buf(),
        message: format!("cannot verify client certificates with it: {error}"),
    })
}

/// What the (verified) leaf certificate of a client names; `None` when it
/// cannot be parsed (rustls verified it, so this does not happen).
pub(super) fn identity_of(leaf: &CertificateDer<'_>) -> Option<ClientCertificate> {
    let (_, certificate) = X509Certificate::from_der(leaf).ok()?;
    let subject = certificate.subject();
    let common_name =
        subject.iter_common_name().next().and_then(|name| name.as_str().ok()).map(str::to_owned);
    let mut sans = Vec::new();
    if let Ok(Some(extension)) = certificate.subject_alternative_name() {
        for name in &extension.value.general_names {
            let (kind, value) = match name {
                GeneralName::DNSName(dns) => (SanKind::Dns, (*dns).to_owned()),
                GeneralName::URI(uri) => (SanKind::Uri, (*uri).to_owned()),
                GeneralName::RFC822Name(email) => (SanKind::Email, (*email).to_owned()),
                GeneralName::IPAddress(bytes) => match ip_of(bytes) {
                    Some(ip) => (SanKind::Ip, ip.to_string()),
                    None => continue,
                },
                _ => continue,
            };
            sans.push(SubjectAltName { kind, value });
        }
    }
    Some(ClientCertificate { subject: subject.to_string(), common_name, sans })
}

fn ip_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    use super::*;

    #[test]
    fn subject_common_name_and_alternative_names() {
        let mut params = CertificateParams::new(vec!["client.example.com".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "acme");
        params.distinguished_name.push(DnType::OrganizationName, "Acme");
        params.subject_alt_names.push(SanType::URI("spiffe://acme/prod".try_into().unwrap()));
        params.subject_alt_names.push(SanType::IpAddress([10, 0, 0, 1].into()));
        let certificate = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
        let identity = identity_of(certificate.der()).unwrap();
        assert_eq!(identity.common_name.as_deref(), Some("acme"));
        assert!(identity.subject.contains("CN=acme"), "{}", identity.subject);
        assert!(identity.subject.contains("O=Acme"), "{}", identity.subject);
        let sans: Vec<String> = identity.sans.iter().map(ToString::to_string).collect();
        assert_eq!(sans, ["DNS:client.example.com", "URI:spiffe://acme/prod", "IP:10.0.0.1"]);
        assert!(identity.has_san("CLIENT.example.com") && identity.has_san("10.0.0.1"));
        assert!(!identity.has_san("spiffe://ACME/prod"));
        assert_eq!(identity.identity(), Some(identity.subject.as_str()));
    }
}
