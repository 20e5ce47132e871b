//! The JWT policy: a bearer token verified with pinned algorithms and
//! configured keys, its claims checked, some forwarded as headers.

use std::{sync::Arc, time::Duration};

use http::{HeaderName, Uri, request::Parts};
use jsonwebtoken::{Algorithm, Validation, decode, decode_header, errors::ErrorKind};
use serde_json::{Map, Value};

use crate::task::TaskGuard;

use super::{
    AuthError, AuthSetupError, CredentialSource, KeySet, Principal, Scheme,
    cache::TokenCache,
    claims,
    credential::{self, spoofable},
    jwks::RemoteKeys,
    keys::Selection,
};

/// A JWT policy, resolved from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// The accepted `alg` values; a token with another is refused.
    pub algorithms: Vec<Algorithm>,
    /// Where the keys come from.
    pub keys: KeySource,
    /// The required `iss`, if any.
    pub issuer: Option<String>,
    /// The accepted `aud` values; empty accepts any (and no) audience.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf` (whole seconds count).
    pub leeway: Duration,
    /// Refuse tokens without `exp`.
    pub require_exp: bool,
    /// Scopes the token must all carry.
    pub scopes: Vec<String>,
    /// Claims the token must carry, with these values.
    pub claims: Vec<(String, String)>,
    /// Where the token is read from.
    pub source: CredentialSource,
    /// Claim → request header set for the backend.
    pub forward_claims: Vec<(String, HeaderName)>,
    /// Leave the token on the request for the backend (a token taken from
    /// the query string is removed whatever this says).
    pub forward_token: bool,
    /// The most tokens the verified-token cache holds (0: no cache).
    pub cache_entries: u64,
    /// The longest a verified token stays cached.
    pub cache_ttl: Duration,
}

/// Where a JWT policy's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Keys loaded at compile time: a JWKS file, a PEM key, a secret.
    Static(KeySet),
    /// A JWKS URL, fetched and refreshed while the policy lives.
    Remote(JwksUrl),
}

/// A JWKS URL and how it is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksUrl {
    /// The URL (`http` or `https`).
    pub url: Uri,
    /// The time between two periodic fetches.
    pub refresh: Duration,
    /// The least time between two fetches caused by unknown `kid`s.
    pub cooldown: Duration,
    /// The time a fetch may take.
    pub timeout: Duration,
}

enum Keys {
    Static(Arc<KeySet>),
    Remote(Arc<RemoteKeys>),
}

/// A compiled JWT policy. Dropping it stops its JWKS refresh task.
pub struct JwtPolicy {
    algorithms: Vec<Algorithm>,
    validations: Vec<(Algorithm, Validation)>,
    keys: Keys,
    cache: Arc<TokenCache>,
    scopes: Vec<String>,
    claims: Vec<(String, String)>,
    source: CredentialSource,
    forward_claims: Vec<(String, HeaderName)>,
    forwarded: Vec<HeaderName>,
    spoofable: Vec<HeaderName>,
    forward_token: bool,
    _refresh: Option<TaskGuard>,
}

impl std::fmt::Debug for JwtPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtPolicy")
            .field("algorithms", &self.algorithms)
            .field("source", &self.source)
            .finish()
    }
}

impl JwtPolicy {
    /// Where the credential is read from (for the OpenAPI document).
    pub fn source(&self) -> &CredentialSource {
        &self.source
    }

    /// Builds the policy. With a JWKS URL, fetches it once (a failure is
    /// logged, not fatal: tokens are refused with 503 until a fetch
    /// succeeds) and starts the refresh task. Must run inside a Tokio runtime.
    pub async fn new(settings: JwtSettings) -> Result<Self, AuthSetupError> {
        if settings.algorithms.is_empty() {
            return Err(AuthSetupError::NoAlgorithms);
        }
        let validations = settings.algorithms.iter().map(|alg| (*alg, validation(&settings, *alg))).collect();
        let cache = Arc::new(TokenCache::new(settings.cache_entries, settings.cache_ttl, settings.leeway));
        let (keys, refresh) = match settings.keys {
            KeySource::Static(keys) => (Keys::Static(Arc::new(keys)), None),
            KeySource::Remote(url) => {
                let remote = Arc::new(RemoteKeys::new(url, settings.algorithms.clone())?);
                remote.refresh().await;
                let refresh = TaskGuard::spawn(refresh_loop(remote.clone(), cache.clone()));
                (Keys::Remote(remote), Some(refresh))
            }
        };
        let forwarded: Vec<HeaderName> =
            settings.forward_claims.iter().map(|(_, name)| name.clone()).collect();
        Ok(Self {
            algorithms: settings.algorithms,
            validations,
            keys,
            cache,
            scopes: settings.scopes,
            claims: settings.claims,
            source: settings.source,
            forward_claims: settings.forward_claims,
            spoofable: spoofable(&forwarded),
            forwarded,
            forward_token: settings.forward_token,
            _refresh: refresh,
        })
    }

    /// The request headers this policy sets (forwarded claims); the policy
    /// pipeline adds them to the metadata allow-list.
    pub fn forwarded_headers(&self) -> &[HeaderName] {
        &self.forwarded
    }

    /// Authenticates a request: removes spoofed claim headers, takes the
    /// token, verifies it (or finds it in the cache), checks scopes and
    /// claims, and sets the forwarded claim headers.
    pub async fn authenticate(&self, parts: &mut Parts) -> Result<Principal, AuthError> {
        credential::remove_all(&mut parts.headers, &self.spoofable);
        let token = self.source.take(parts, !self.forward_token).map_err(invalid)?.ok_or_else(|| {
            AuthError::Missing(Scheme::Bearer, format!("this route requires {}", self.source.describe()))
        })?;
        let claims = self.verify(&token).await?;
        if let Some(scope) = claims::missing_scope(&claims, &self.scopes) {
            return Err(AuthError::Forbidden(format!("the token lacks the scope {scope:?}")));
        }
        if let Some(name) = claims::mismatched_claim(&claims, &self.claims) {
            return Err(AuthError::Forbidden(format!(
                "the token's {name:?} claim does not allow this route"
            )));
        }
        for (claim, header) in &self.forward_claims {
            if let Some(value) = claims::header_value(&claims, claim) {
                parts.headers.insert(header.clone(), value);
            }
        }
        let subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
        Ok(Principal { subject, consumer: None, claims })
    }

    async fn verify(&self, token: &str) -> Result<Arc<Map<String, Value>>, AuthError> {
        let digest = TokenCache::digest(token);
        if let Some(claims) = self.cache.get(&digest) {
            return Ok(claims);
        }
        let header = decode_header(token).map_err(|error| invalid(describe(error.kind())))?;
        let alg = header.alg;
        let Some((_, validation)) = self.validations.iter().find(|(accepted, _)| *accepted == alg) else {
            return Err(invalid(format!("tokens signed with {alg:?} are not accepted")));
        };
        if header.crit.is_some() {
            return Err(invalid("the token has critical header parameters this gateway does not support"));
        }
        let kid = header.kid.as_deref();
        let mut keys = self.current_keys();
        // An unknown kid, or no keys yet (a failed first fetch): fetch again,
        // at most once per cool-down whoever asks.
        let unknown = keys.is_empty() || matches!(keys.select(kid, alg), Selection::UnknownKid);
        if let (true, Keys::Remote(remote)) = (unknown, &self.keys) {
            if remote.refresh_for_unknown_kid().await {
                self.cache.clear();
            }
            keys = remote.current();
        }
        let key = match keys.select(kid, alg) {
            Selection::Key(key) => key,
            _ if keys.is_empty() => {
                return Err(AuthError::Unavailable(
                    "the keys to verify tokens with are not available yet".into(),
                ));
            }
            Selection::UnknownKid => return Err(invalid("the token's key id (kid) is unknown")),
            Selection::NoKeyForAlgorithm => return Err(invalid(format!("no key may verify {alg:?} tokens"))),
            Selection::Ambiguous => {
                return Err(invalid("the token names no key id (kid) and several keys fit"));
            }
        };
        let data = decode::<Map<String, Value>>(token, key, validation)
            .map_err(|error| invalid(describe(error.kind())))?;
        let claims = Arc::new(data.claims);
        self.cache.insert(digest, claims.clone());
        Ok(claims)
    }

    fn current_keys(&self) -> Arc<KeySet> {
        match &self.keys {
            Keys::Static(keys) => keys.clone(),
            Keys::Remote(remote) => remote.current(),
        }
    }
}

async fn refresh_loop(remote: Arc<RemoteKeys>, cache: Arc<TokenCache>) {
    loop {
        tokio::time::sleep(remote.next_refresh()).await;
        if remote.refresh().await {
            cache.clear();
        }
    }
}

fn validation(settings: &JwtSettings, alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = settings.leeway.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.required_spec_claims.clear();
    if settings.require_exp {
        validation.required_spec_claims.insert("exp".to_owned());
    }
    if let Some(issuer) = &settings.issuer {
        validation.set_issuer(&[issuer]);
        validation.required_spec_claims.insert("iss".to_owned());
    }
    if settings.audiences.is_empty() {
        validation.validate_aud = false;
    } else {
        validation.set_audience(&settings.audiences);
        validation.required_spec_claims.insert("aud".to_owned());
    }
    validation
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::Invalid(Scheme::Bearer, message.into())
}

/// A verification failure in words that reveal nothing of the key.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted".into(),
        ErrorKind::InvalidAudience => "the token's audience is not accepted".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the token's algorithm is not accepted".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim:?} claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("the token's {claim:?} claim is malformed"),
        _ => "the token is malformed".into(),
    }
}
