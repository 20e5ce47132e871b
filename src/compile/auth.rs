//! Authentication policies resolved from the config: API keys here, JWT
//! in `jwt_auth`; the credential sources and forwarded header names both
//! use. Every problem is reported with its place
//! (`policies.partner-key.api_key.keys[1].sha256`).

use http::HeaderName;

use super::{CompileErrors, Place, settings::is_protocol_header};
use crate::{
    config::ApiKeyConfig,
    policy::auth::{ApiKey, ApiKeySettings, CredentialSource, parse_sha256},
};

const DEFAULT_API_KEY_HEADER: &str = "x-api-key";

/// Headers a policy may not set besides the protocol's own
/// ([`is_protocol_header`]): credentials, and what the gateway sets.
const RESERVED_HEADERS: &[&str] = &["authorization", "cookie", "forwarded"];
/// Prefixes of the same: the body's description, and the forwarding headers.
const RESERVED_PREFIXES: &[&str] = &["content-", "x-forwarded-"];

/// An API-key policy's settings; `None` (with the problems in `errors`)
/// when the config is wrong.
pub fn api_key_settings(
    config: &ApiKeyConfig,
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<ApiKeySettings> {
    let before = errors.issues.len();
    let default = CredentialSource::Header(HeaderName::from_static(DEFAULT_API_KEY_HEADER));
    let source =
        credential_source([("header", &config.header), ("query", &config.query)], default, place, errors);
    if config.keys.is_empty() {
        errors.push(place.key("keys"), "needs at least one key");
    }
    let mut keys: Vec<ApiKey> = Vec::new();
    for (index, entry) in config.keys.iter().enumerate() {
        let here = place.key("keys").index(index);
        if entry.consumer.is_empty() || http::HeaderValue::from_str(&entry.consumer).is_err() {
            errors.push(here.key("consumer"), "must be a non-empty name of visible characters");
        }
        let Some(sha256) = parse_sha256(&entry.sha256) else {
            errors.push(
                here.key("sha256"),
                "is not a SHA-256 (64 hex digits); `protogate hash-key <KEY>` prints the hash of a key",
            );
            continue;
        };
        if let Some(other) = keys.iter().find(|key| key.sha256 == sha256) {
            errors.push(here.key("sha256"), format!("the same key is already given to {:?}", other.consumer));
        }
        keys.push(ApiKey { consumer: entry.consumer.clone(), sha256 });
    }
    let consumer_header = config
        .consumer_header
        .as_ref()
        .and_then(|name| header_name(name, &place.key("consumer_header"), errors));
    let settings = ApiKeySettings { source: source?, keys, consumer_header, forward_key: config.forward_key };
    (errors.issues.len() == before).then_some(settings)
}

/// The one configured credential source, or `default` when none is.
pub(super) fn credential_source<const N: usize>(
    options: [(&str, &Option<String>); N],
    default: CredentialSource,
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<CredentialSource> {
    let given: Vec<(&str, &String)> =
        options.iter().filter_map(|(key, value)| value.as_ref().map(|value| (*key, value))).collect();
    let (key, value) = match given.as_slice() {
        [] => return Some(default),
        [one] => *one,
        _ => {
            let keys: Vec<&str> = given.iter().map(|(key, _)| *key).collect();
            errors
                .push(place, format!("takes the credential from one place; {} are set", keys.join(" and ")));
            return None;
        }
    };
    let here = place.key(key);
    if value.is_empty() {
        errors.push(here, "must not be empty");
        return None;
    }
    match key {
        "header" => match HeaderName::from_bytes(value.as_bytes()) {
            Ok(name) if name == http::header::AUTHORIZATION => Some(CredentialSource::Bearer),
            Ok(name) => Some(CredentialSource::Header(name)),
            Err(_) => {
                errors.push(here, format!("{value:?} is not a header name"));
                None
            }
        },
        "query" => Some(CredentialSource::Query(value.clone())),
        _ => Some(CredentialSource::Cookie(value.clone())),
    }
}

/// A header a policy sets for the backend: a valid name, not one the
/// protocol or the gateway owns.
pub(super) fn header_name(name: &str, place: &Place, errors: &mut CompileErrors) -> Option<HeaderName> {
    let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
        errors.push(place, format!("{name:?} is not a header name"));
        return None;
    };
    let name = header.as_str();
    if is_protocol_header(&header)
        || RESERVED_HEADERS.contains(&name)
        || RESERVED_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
    {
        errors.push(place, format!("{name:?} is a header the gateway or the protocol owns"));
        return None;
    }
    Some(header)
}
