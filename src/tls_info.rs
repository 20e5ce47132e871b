//! What the TLS handshake of a request's connection established: the
//! protocol version, the server name the client asked for (SNI), the
//! protocol ALPN chose, and the client certificate when one was verified.
//!
//! The server puts one `Arc<TlsInfo>` into the extensions of every request
//! that came over TLS, and none into those that came in cleartext: the
//! proxy reads the scheme from it, policies the client's identity, logs
//! whatever they need. This module only describes; it makes no handshake.

use std::{fmt, sync::Arc};

use http::Extensions;

/// The TLS session of the connection a request came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The protocol version, e.g. `TLSv1.3`.
    pub version: &'static str,
    /// The server name the client sent (SNI), lowercase.
    pub sni: Option<String>,
    /// The protocol ALPN chose (`h2`, `http/1.1`), if any.
    pub alpn: Option<String>,
    /// The client certificate, verified against the listener's CA.
    pub client: Option<ClientCertificate>,
}

/// Who a verified client certificate names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject's distinguished name, e.g. `CN=acme, O=Acme`.
    pub subject: String,
    /// The subject's common name (CN), when it has one.
    pub common_name: Option<String>,
    /// The subject alternative names.
    pub sans: Vec<SubjectAltName>,
}

/// One subject alternative name of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectAltName {
    /// What kind of name.
    pub kind: SanKind,
    /// The name as text (an IP address in its usual notation).
    pub value: String,
}

/// The kinds of subject alternative name kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanKind {
    /// A DNS name.
    Dns,
    /// A URI (e.g. a SPIFFE id).
    Uri,
    /// An e-mail address.
    Email,
    /// An IP address.
    Ip,
}

impl TlsInfo {
    /// The TLS session a request came over, when it came over TLS.
    pub fn of(extensions: &Extensions) -> Option<&TlsInfo> {
        extensions.get::<Arc<TlsInfo>>().map(Arc::as_ref)
    }

    /// The verified client certificate of a request, if it has one.
    pub fn client_of(extensions: &Extensions) -> Option<&ClientCertificate> {
        Self::of(extensions).and_then(|tls| tls.client.as_ref())
    }
}

impl ClientCertificate {
    /// The name a rate limit counts the client under: the subject, or its
    /// first alternative name when the subject is empty.
    pub fn identity(&self) -> Option<&str> {
        if !self.subject.is_empty() {
            return Some(&self.subject);
        }
        self.sans.first().map(|san| san.value.as_str())
    }

    /// Whether one of its alternative names is `value` (of any kind; DNS
    /// names compared without regard to case).
    pub fn has_san(&self, value: &str) -> bool {
        self.sans.iter().any(|san| match san.kind {
            SanKind::Dns | SanKind::Email => san.value.eq_ignore_ascii_case(value),
            SanKind::Uri | SanKind::Ip => san.value == value,
        })
    }
}

impl fmt::Display for SubjectAltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            SanKind::Dns => "DNS",
            SanKind::Uri => "URI",
            SanKind::Email => "email",
            SanKind::Ip => "IP",
        };
        write!(f, "{kind}:{}", self.value)
    }
}
