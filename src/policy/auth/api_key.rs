//! The API-key policy: a key from a header or the query string, checked
//! against SHA-256 hashes (the config never holds a key) in constant time,
//! and the consumer it belongs to.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, request::Parts};
use serde_json::Map;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AuthError, AuthSetupError, CredentialSource, Principal, Scheme, credential};

/// One accepted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Who holds it.
    pub consumer: String,
    /// The key's SHA-256.
    pub sha256: [u8; 32],
}

/// An API-key policy, resolved from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySettings {
    /// Where the key is read from (a header or a query parameter).
    pub source: CredentialSource,
    /// The accepted keys.
    pub keys: Vec<ApiKey>,
    /// The request header the consumer's name is set in for the backend.
    pub consumer_header: Option<HeaderName>,
    /// Leave the key on the request (a key taken from the query string is
    /// removed whatever this says).
    pub forward_key: bool,
}

/// A compiled API-key policy.
#[derive(Debug)]
pub struct ApiKeyPolicy {
    source: CredentialSource,
    keys: Vec<(ApiKey, HeaderValue)>,
    consumer_header: Option<HeaderName>,
    forwarded: Vec<HeaderName>,
    spoofable: Vec<HeaderName>,
    forward_key: bool,
    no_claims: Arc<Map<String, serde_json::Value>>,
}

impl ApiKeyPolicy {
    /// Where the credential is read from (for the OpenAPI document).
    pub fn source(&self) -> &CredentialSource {
        &self.source
    }

    /// Builds the policy; refuses one without keys, or with a consumer
    /// name that cannot be a header value.
    pub fn new(settings: ApiKeySettings) -> Result<Self, AuthSetupError> {
        if settings.keys.is_empty() {
            return Err(AuthSetupError::NoKeys);
        }
        let keys = settings
            .keys
            .into_iter()
            .map(|key| match HeaderValue::from_str(&key.consumer) {
                Ok(value) => Ok((key, value)),
                Err(_) => Err(AuthSetupError::Consumer(key.consumer)),
            })
            .collect::<Result<_, _>>()?;
        let forwarded: Vec<HeaderName> = settings.consumer_header.iter().cloned().collect();
        Ok(Self {
            source: settings.source,
            keys,
            consumer_header: settings.consumer_header,
            spoofable: credential::spoofable(&forwarded),
            forwarded,
            forward_key: settings.forward_key,
            no_claims: Arc::new(Map::new()),
        })
    }

    /// The request headers this policy sets (the consumer header); the
    /// policy pipeline adds them to the metadata allow-list.
    pub fn forwarded_headers(&self) -> &[HeaderName] {
        &self.forwarded
    }

    /// Authenticates a request: removes a spoofed consumer header, takes
    /// the key, finds its consumer, sets the consumer header.
    pub fn authenticate(&self, parts: &mut Parts) -> Result<Principal, AuthError> {
        credential::remove_all(&mut parts.headers, &self.spoofable);
        let key = self
            .source
            .take(parts, !self.forward_key)
            .map_err(|message| AuthError::Invalid(Scheme::ApiKey, message))?
            .ok_or_else(|| {
                AuthError::Missing(
                    Scheme::ApiKey,
                    format!("this route requires an API key in {}", self.source.describe()),
                )
            })?;
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        // Every key is compared, each in constant time.
        let mut found = None;
        for (entry, value) in &self.keys {
            if bool::from(entry.sha256.ct_eq(&digest)) && found.is_none() {
                found = Some((entry, value));
            }
        }
        let Some((entry, value)) = found else {
            return Err(AuthError::Invalid(Scheme::ApiKey, "the API key is not valid".into()));
        };
        if let Some(header) = &self.consumer_header {
            parts.headers.insert(header.clone(), value.clone());
        }
        Ok(Principal {
            subject: None,
            consumer: Some(entry.consumer.clone()),
            claims: self.no_claims.clone(),
        })
    }
}

/// The SHA-256 of a key, in lowercase hex: what the config stores.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A SHA-256 written as 64 hex digits (either case).
pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip() {
        let hex = hash_key("secret-key");
        assert_eq!(hex.len(), 64);
        assert_eq!(parse_sha256(&hex), Some(Sha256::digest(b"secret-key").into()));
        assert_eq!(parse_sha256(&hex.to_uppercase()), parse_sha256(&hex));
        assert_eq!(parse_sha256("abc"), None);
        assert_eq!(parse_sha256(&"zz".repeat(32)), None);
    }
}
