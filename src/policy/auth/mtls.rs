//! The client-certificate (mTLS) policy: the certificate was verified in
//! the TLS handshake against the listener's CA; this policy only says
//! which consumer it names, from a list (by subject common name or by a
//! subject alternative name) or, with no list, by its common name. It
//! reads the request's [`TlsInfo`]; it does not know how it got there.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, request::Parts};
use serde_json::Map;

use super::{AuthError, AuthSetupError, Principal, Scheme, credential};
use crate::tls_info::{ClientCertificate, TlsInfo};

/// What a certificate must carry to name a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateMatch {
    /// This subject common name (CN), exactly.
    CommonName(String),
    /// This subject alternative name (DNS names and e-mail addresses
    /// without regard to case).
    San(String),
}

/// One accepted certificate and its consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsConsumer {
    /// Who holds it.
    pub consumer: String,
    /// How the certificate is recognised.
    pub matches: CertificateMatch,
}

/// An mTLS policy, resolved from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsSettings {
    /// The accepted certificates; `None`: any verified one, its common
    /// name naming the consumer.
    pub consumers: Option<Vec<MtlsConsumer>>,
    /// The request header the consumer's name is set in for the backend.
    pub consumer_header: Option<HeaderName>,
}

/// A compiled mTLS policy.
#[derive(Debug)]
pub struct MtlsPolicy {
    consumers: Option<Vec<(MtlsConsumer, HeaderValue)>>,
    consumer_header: Option<HeaderName>,
    forwarded: Vec<HeaderName>,
    spoofable: Vec<HeaderName>,
    no_claims: Arc<Map<String, serde_json::Value>>,
}

impl MtlsPolicy {
    /// Builds the policy; refuses a consumer name that cannot be a header value.
    pub fn new(settings: MtlsSettings) -> Result<Self, AuthSetupError> {
        let consumers = settings
            .consumers
            .map(|list| {
                list.into_iter()
                    .map(|entry| match HeaderValue::from_str(&entry.consumer) {
                        Ok(value) => Ok((entry, value)),
                        Err(_) => Err(AuthSetupError::Consumer(entry.consumer)),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let forwarded: Vec<HeaderName> = settings.consumer_header.iter().cloned().collect();
        Ok(Self {
            consumers,
            consumer_header: settings.consumer_header,
            spoofable: credential::spoofable(&forwarded),
            forwarded,
            no_claims: Arc::new(Map::new()),
        })
    }

    /// The request headers this policy sets (the consumer header).
    pub fn forwarded_headers(&self) -> &[HeaderName] {
        &self.forwarded
    }

    /// Authenticates a request by the client certificate of its connection:
    /// removes a spoofed consumer header, finds the consumer, sets the header.
    pub fn authenticate(&self, parts: &mut Parts) -> Result<Principal, AuthError> {
        credential::remove_all(&mut parts.headers, &self.spoofable);
        let Some(certificate) = TlsInfo::client_of(&parts.extensions) else {
            return Err(AuthError::Missing(
                Scheme::ClientCertificate,
                "this route requires a client certificate (mTLS)".into(),
            ));
        };
        let (consumer, value) = self.consumer_of(certificate)?;
        if let Some(header) = &self.consumer_header {
            parts.headers.insert(header.clone(), value);
        }
        Ok(Principal { subject: None, consumer: Some(consumer), claims: self.no_claims.clone() })
    }

    fn consumer_of(&self, certificate: &ClientCertificate) -> Result<(String, HeaderValue), AuthError> {
        let Some(consumers) = &self.consumers else {
            let name = certificate.common_name.as_deref().unwrap_or_default();
            return match HeaderValue::from_str(name) {
                Ok(value) if !name.is_empty() => Ok((name.to_owned(), value)),
                _ => Err(AuthError::Invalid(
                    Scheme::ClientCertificate,
                    "the client certificate has no common name that can name a consumer".into(),
                )),
            };
        };
        let found = consumers.iter().find(|(entry, _)| match &entry.matches {
            CertificateMatch::CommonName(name) => certificate.common_name.as_deref() == Some(name.as_str()),
            CertificateMatch::San(san) => certificate.has_san(san),
        });
        match found {
            Some((entry, value)) => Ok((entry.consumer.clone(), value.clone())),
            None => Err(AuthError::Forbidden("the client certificate is not accepted on this route".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::tls_info::{SanKind, SubjectAltName};

    use super::*;

    fn request(client: Option<ClientCertificate>) -> Parts {
        let mut parts = http::Request::new(()).into_parts().0;
        parts.headers.insert("x-consumer", HeaderValue::from_static("forged"));
        if let Some(client) = client {
            let tls = TlsInfo { version: "TLSv1.3", sni: None, alpn: None, client: Some(client) };
            parts.extensions.insert(Arc::new(tls));
        }
        parts
    }

    fn certificate(common_name: &str, san: &str) -> ClientCertificate {
        ClientCertificate {
            subject: format!("CN={common_name}"),
            common_name: Some(common_name.to_owned()),
            sans: vec![SubjectAltName { kind: SanKind::Uri, value: san.to_owned() }],
        }
    }

    fn policy(consumers: Option<Vec<MtlsConsumer>>) -> MtlsPolicy {
        let consumer_header = Some(HeaderName::from_static("x-consumer"));
        MtlsPolicy::new(MtlsSettings { consumers, consumer_header }).unwrap()
    }

    #[test]
    fn without_a_list_the_common_name_is_the_consumer() {
        let policy = policy(None);
        let mut parts = request(Some(certificate("acme", "spiffe://acme")));
        assert_eq!(policy.authenticate(&mut parts).unwrap().consumer.as_deref(), Some("acme"));
        assert_eq!(parts.headers["x-consumer"], "acme");
        let mut anonymous = request(None);
        assert!(matches!(policy.authenticate(&mut anonymous), Err(AuthError::Missing(..))));
        assert!(anonymous.headers.get("x-consumer").is_none(), "the forged header is removed");
    }

    #[test]
    fn a_list_matches_by_common_name_or_san() {
        let policy = policy(Some(vec![
            MtlsConsumer { consumer: "one".into(), matches: CertificateMatch::CommonName("first".into()) },
            MtlsConsumer { consumer: "two".into(), matches: CertificateMatch::San("spiffe://two".into()) },
        ]));
        let consumer =
            |cn, san| policy.authenticate(&mut request(Some(certificate(cn, san)))).map(|p| p.consumer);
        assert_eq!(consumer("first", "spiffe://x"), Ok(Some("one".into())));
        assert_eq!(consumer("other", "spiffe://two"), Ok(Some("two".into())));
        assert!(matches!(consumer("other", "spiffe://x"), Err(AuthError::Forbidden(_))));
    }
}
