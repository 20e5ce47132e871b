//! Verification keys and the algorithms each may verify.
//!
//! A key's algorithms come from its own type (RSA: RS*/PS*; EC P-256:
//! ES256; EC P-384: ES384; Ed25519: EdDSA; a secret: HS*), narrowed by the
//! JWK's `alg` when it has one and by the policy's accepted algorithms. A
//! token is checked only with a key whose algorithms include the token's
//! `alg`, so a public key is never used as an HMAC secret.

use std::fmt;

use sha2::{Digest, Sha256};

use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse},
};

/// Shortest HMAC secret accepted: as long as the SHA-256 output (RFC 7518 §3.2).
const MIN_SECRET_BYTES: usize = 32;

/// Keys that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not a JWKS document.
    #[error("not a JSON Web Key Set: {0}")]
    Jwks(#[source] serde_json::Error),
    /// Not a PEM public key of a supported type.
    #[error("not a PEM public key (RSA, EC P-256/P-384 or Ed25519)")]
    Pem,
    /// An HMAC secret too short to be safe.
    #[error("the secret is {0} bytes long; an HS secret must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret(usize),
    /// Nothing in the source can verify an accepted algorithm.
    #[error("no key can verify any of the accepted algorithms ({0})")]
    NoUsableKey(String),
}

#[derive(Clone)]
struct VerifyKey {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

/// A set of verification keys. Two sets are equal when they were read
/// from the same bytes (a reload keeps a policy whose key file is unchanged).
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyKey>,
    /// The SHA-256 of the bytes the keys were read from.
    source: [u8; 32],
}

impl PartialEq for KeySet {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for KeySet {}

/// The outcome of looking a key up for a token.
pub(super) enum Selection<'a> {
    /// The key to verify with.
    Key(&'a DecodingKey),
    /// No key has the token's `kid`.
    UnknownKid,
    /// Keys exist, but none may verify the token's `alg`.
    NoKeyForAlgorithm,
    /// The token names no `kid` and more than one key fits.
    Ambiguous,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.iter().map(|key| (key.kid.as_deref().unwrap_or("-"), &key.algorithms));
        f.debug_list().entries(keys).finish()
    }
}

impl KeySet {
    /// The asymmetric keys of a JWKS document that can verify one of
    /// `accepted`. Keys of another use, curve or type (and `oct` secrets,
    /// which belong in `secret_file`) are skipped.
    pub fn from_jwks(json: &[u8], accepted: &[Algorithm]) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_slice(json).map_err(KeyError::Jwks)?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            if jwk.common.public_key_use.as_ref().is_some_and(|usage| *usage != PublicKeyUse::Signature) {
                continue;
            }
            let algorithms: &[Algorithm] = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms(),
                AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                    EllipticCurve::P256 => &[Algorithm::ES256],
                    EllipticCurve::P384 => &[Algorithm::ES384],
                    _ => continue,
                },
                AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                    &[Algorithm::EdDSA]
                }
                _ => continue,
            };
            let declared = match jwk.common.key_algorithm {
                Some(alg) => match Algorithm::try_from(alg) {
                    Ok(alg) => Some(alg),
                    Err(_) => continue,
                },
                None => None,
            };
            let algorithms: Vec<Algorithm> = algorithms
                .iter()
                .copied()
                .filter(|alg| declared.is_none_or(|declared| declared == *alg) && accepted.contains(alg))
                .collect();
            if algorithms.is_empty() {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                tracing::warn!(kid = ?jwk.common.key_id, "skipping a JWK that does not parse");
                continue;
            };
            keys.push(VerifyKey { kid: jwk.common.key_id.clone(), key, algorithms });
        }
        Self::usable(keys, accepted, json)
    }

    /// One PEM public key: RSA, EC (P-256 or P-384) or Ed25519.
    pub fn from_pem(pem: &[u8], accepted: &[Algorithm]) -> Result<Self, KeyError> {
        let (key, algorithms): (DecodingKey, &[Algorithm]) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            (key, AlgorithmFamily::Rsa.algorithms())
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            // The uncompressed point: 65 bytes on P-256, 97 on P-384.
            let algorithms: &[Algorithm] = match key.try_get_as_bytes().map(<[u8]>::len) {
                Ok(65) => &[Algorithm::ES256],
                Ok(97) => &[Algorithm::ES384],
                _ => return Err(KeyError::Pem),
            };
            (key, algorithms)
        } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            (key, &[Algorithm::EdDSA])
        } else {
            return Err(KeyError::Pem);
        };
        Self::single(key, algorithms, accepted, pem)
    }

    /// An HMAC secret, for HS256/384/512 only.
    pub fn from_secret(secret: &[u8], accepted: &[Algorithm]) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::ShortSecret(secret.len()));
        }
        Self::single(DecodingKey::from_secret(secret), AlgorithmFamily::Hmac.algorithms(), accepted, secret)
    }

    fn single(
        key: DecodingKey,
        algorithms: &[Algorithm],
        accepted: &[Algorithm],
        source: &[u8],
    ) -> Result<Self, KeyError> {
        let algorithms: Vec<Algorithm> =
            algorithms.iter().copied().filter(|alg| accepted.contains(alg)).collect();
        let keys =
            if algorithms.is_empty() { Vec::new() } else { vec![VerifyKey { kid: None, key, algorithms }] };
        Self::usable(keys, accepted, source)
    }

    fn usable(keys: Vec<VerifyKey>, accepted: &[Algorithm], source: &[u8]) -> Result<Self, KeyError> {
        if keys.is_empty() {
            let names: Vec<String> = accepted.iter().map(|alg| format!("{alg:?}")).collect();
            return Err(KeyError::NoUsableKey(names.join(", ")));
        }
        Ok(Self { keys, source: Sha256::digest(source).into() })
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no key (a JWKS URL that never answered).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a `kid` of `self` is missing from `newer`.
    pub(super) fn loses_keys_in(&self, newer: &KeySet) -> bool {
        self.keys.iter().any(|key| !newer.keys.iter().any(|other| other.kid == key.kid))
    }

    /// The key for a token with `kid` and `alg`. A key without a `kid`
    /// (a PEM key, a secret) serves any token `kid`; a token without a
    /// `kid` is verified only when exactly one key fits its `alg`.
    pub(super) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Selection<'_> {
        let named: Vec<&VerifyKey> = match kid {
            Some(kid) => self.keys.iter().filter(|key| key.kid.as_deref() == Some(kid)).collect(),
            None => Vec::new(),
        };
        let candidates: Vec<&VerifyKey> = if named.is_empty() {
            let pool = self.keys.iter().filter(|key| kid.is_none() || key.kid.is_none());
            pool.collect()
        } else {
            named
        };
        if candidates.is_empty() {
            return if kid.is_some() { Selection::UnknownKid } else { Selection::NoKeyForAlgorithm };
        }
        let mut fitting = candidates.into_iter().filter(|key| key.algorithms.contains(&alg));
        match (fitting.next(), fitting.next()) {
            (Some(key), None) => Selection::Key(&key.key),
            (Some(key), Some(_)) if kid.is_some() => Selection::Key(&key.key),
            (Some(_), Some(_)) => Selection::Ambiguous,
            (None, _) => Selection::NoKeyForAlgorithm,
        }
    }
}
