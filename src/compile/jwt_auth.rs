//! JWT policies resolved from the config: algorithms pinned, key files
//! and secret variables read, keys parsed, names checked, defaults
//! applied. Every problem is reported with its place
//! (`policies.users-jwt.jwt.algorithms[1]`).

use std::{path::Path, str::FromStr, time::Duration};

use http::Uri;
use jsonwebtoken::{Algorithm, AlgorithmFamily};

use super::{
    CompileErrors, Place,
    auth::{credential_source, header_name},
    settings::duration,
};
use crate::{
    config::{JwksConfig, JwtConfig},
    policy::auth::{CredentialSource, JwksUrl, JwtSettings, KeySet, KeySource},
};

const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
const LONGEST_LEEWAY: Duration = Duration::from_secs(3600);
const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
/// Common JWKS clients allow about ten fetches a minute; a key an identity
/// provider starts using at once is refused for this long at most.
const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);
const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_CACHE_ENTRIES: u64 = 10_000;
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// A JWT policy's settings; `None` (with the problems in `errors`) when the
/// config is wrong. Relative paths are taken from `base_dir`; `place` is
/// the policy's own (`policies.users-jwt.jwt`).
pub fn jwt_settings(
    config: &JwtConfig,
    base_dir: &Path,
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<JwtSettings> {
    let before = errors.issues.len();
    let symmetric = config.secret_file.is_some() || config.secret_env.is_some();
    let algorithms = algorithms_of(config.algorithms.as_deref(), symmetric, place, errors);
    let keys = key_source(config, base_dir, &algorithms, place, errors);
    let audiences = match &config.audiences {
        None => {
            errors.push(
                place.key("audiences"),
                "required: the audiences tokens must be issued for (`audiences: []` accepts any)",
            );
            Vec::new()
        }
        Some(audiences) => {
            for (index, audience) in audiences.iter().enumerate() {
                if audience.is_empty() {
                    errors.push(place.key("audiences").index(index), "must not be empty");
                }
            }
            audiences.clone()
        }
    };
    if config.issuer.as_deref() == Some("") {
        errors.push(place.key("issuer"), "must not be empty");
    }
    let leeway = config.leeway.map_or(DEFAULT_LEEWAY, |leeway| leeway.0);
    if leeway > LONGEST_LEEWAY {
        errors.push(place.key("leeway"), format!("{leeway:?} is longer than the longest allowed, 1h"));
    }
    for (index, scope) in config.scopes.iter().enumerate() {
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            errors.push(place.key("scopes").index(index), "a scope is one word without spaces");
        }
    }
    let source = credential_source(
        [("header", &config.header), ("query", &config.query), ("cookie", &config.cookie)],
        CredentialSource::Bearer,
        place,
        errors,
    );
    let forward_claims = config
        .forward_claims
        .iter()
        .filter_map(|(claim, header)| {
            header_name(header, &place.key("forward_claims").key(claim), errors)
                .map(|name| (claim.clone(), name))
        })
        .collect();
    let cache_ttl =
        duration(config.cache.max_ttl, DEFAULT_CACHE_TTL, &place.key("cache").key("max_ttl"), errors);
    let settings = JwtSettings {
        algorithms,
        keys: keys?,
        issuer: config.issuer.clone(),
        audiences,
        leeway,
        require_exp: config.require_exp.unwrap_or(true),
        scopes: config.scopes.clone(),
        claims: config.claims.iter().map(|(name, value)| (name.clone(), value.clone())).collect(),
        source: source?,
        forward_claims,
        forward_token: config.forward_token.unwrap_or(true),
        cache_entries: config.cache.max_entries.unwrap_or(DEFAULT_CACHE_ENTRIES),
        cache_ttl,
    };
    (errors.issues.len() == before).then_some(settings)
}

/// The accepted algorithms: the configured ones, or every algorithm of
/// the key kind. A secret pins HS*, public keys pin the others.
fn algorithms_of(
    configured: Option<&[String]>,
    symmetric: bool,
    place: &Place,
    errors: &mut CompileErrors,
) -> Vec<Algorithm> {
    let Some(names) = configured else {
        return if symmetric {
            AlgorithmFamily::Hmac.algorithms().to_vec()
        } else {
            [AlgorithmFamily::Rsa, AlgorithmFamily::Ec, AlgorithmFamily::Ed]
                .iter()
                .flat_map(|family| family.algorithms().iter().copied())
                .collect()
        };
    };
    if names.is_empty() {
        errors.push(place.key("algorithms"), "must name at least one algorithm");
    }
    let mut algorithms = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let here = place.key("algorithms").index(index);
        if name.eq_ignore_ascii_case("none") {
            errors.push(here, "unsigned tokens (alg none) are never accepted");
            continue;
        }
        let Ok(alg) = Algorithm::from_str(name) else {
            errors.push(
                here,
                format!("unknown algorithm {name:?} (one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, HS384, HS512)"),
            );
            continue;
        };
        match (alg.family() == AlgorithmFamily::Hmac, symmetric) {
            (true, false) => errors
                .push(here, format!("{name} needs secret_file or secret_env; this policy has public keys")),
            (false, true) => errors.push(
                here,
                format!(
                    "{name} needs a public key (jwks, public_key, public_key_file); this policy has a secret"
                ),
            ),
            _ if !algorithms.contains(&alg) => algorithms.push(alg),
            _ => {}
        }
    }
    algorithms
}

fn key_source(
    config: &JwtConfig,
    base_dir: &Path,
    accepted: &[Algorithm],
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<KeySource> {
    let given = [
        config.jwks.is_some(),
        config.public_key.is_some(),
        config.public_key_file.is_some(),
        config.secret_file.is_some(),
        config.secret_env.is_some(),
    ];
    if given.iter().filter(|given| **given).count() != 1 {
        errors.push(
            place,
            "needs exactly one key source: jwks, public_key, public_key_file, secret_file or secret_env",
        );
        return None;
    }
    let read = |path: &Path, here: Place, errors: &mut CompileErrors| {
        std::fs::read(base_dir.join(path))
            .map_err(|error| errors.push(here, format!("cannot read {}: {error}", path.display())))
            .ok()
    };
    let (here, keys) = if let Some(jwks) = &config.jwks {
        return jwks_source(jwks, base_dir, accepted, &place.key("jwks"), errors);
    } else if let Some(pem) = &config.public_key {
        (place.key("public_key"), KeySet::from_pem(pem.as_bytes(), accepted))
    } else if let Some(path) = &config.public_key_file {
        let here = place.key("public_key_file");
        let pem = read(path, here.clone(), errors)?;
        (here, KeySet::from_pem(&pem, accepted))
    } else if let Some(path) = &config.secret_file {
        let here = place.key("secret_file");
        let mut secret = read(path, here.clone(), errors)?;
        // `echo secret > file` adds a newline that is not part of the secret.
        if secret.ends_with(b"\n") {
            secret.pop();
            if secret.ends_with(b"\r") {
                secret.pop();
            }
        }
        (here, KeySet::from_secret(&secret, accepted))
    } else {
        let variable = config.secret_env.as_deref().unwrap_or_default();
        let here = place.key("secret_env");
        let Ok(secret) = std::env::var(variable) else {
            errors.push(here, format!("the environment variable {variable:?} is not set (or not UTF-8)"));
            return None;
        };
        (here, KeySet::from_secret(secret.as_bytes(), accepted))
    };
    keys.map(KeySource::Static).map_err(|error| errors.push(here, error)).ok()
}

fn jwks_source(
    jwks: &JwksConfig,
    base_dir: &Path,
    accepted: &[Algorithm],
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<KeySource> {
    match (&jwks.url, &jwks.file) {
        (Some(url), None) => {
            let here = place.key("url");
            let uri = match url.parse::<Uri>() {
                Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => uri,
                _ => {
                    errors.push(here, format!("{url:?} is not an http:// or https:// URL"));
                    return None;
                }
            };
            Some(KeySource::Remote(JwksUrl {
                url: uri,
                refresh: duration(jwks.refresh, DEFAULT_REFRESH, &place.key("refresh"), errors),
                cooldown: duration(jwks.cooldown, DEFAULT_COOLDOWN, &place.key("cooldown"), errors),
                timeout: duration(jwks.timeout, DEFAULT_FETCH_TIMEOUT, &place.key("timeout"), errors),
            }))
        }
        (None, Some(path)) => {
            for (key, given) in [
                ("refresh", jwks.refresh.is_some()),
                ("cooldown", jwks.cooldown.is_some()),
                ("timeout", jwks.timeout.is_some()),
            ] {
                if given {
                    errors.push(place.key(key), "applies to a JWKS url only");
                }
            }
            let here = place.key("file");
            let json = std::fs::read(base_dir.join(path))
                .map_err(|error| {
                    errors.push(here.clone(), format!("cannot read {}: {error}", path.display()))
                })
                .ok()?;
            KeySet::from_jwks(&json, accepted)
                .map(KeySource::Static)
                .map_err(|error| errors.push(here, error))
                .ok()
        }
        _ => {
            errors.push(place, "needs exactly one of url or file");
            None
        }
    }
}
