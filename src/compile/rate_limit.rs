//! `policies.<name>.rate_limit` checked and resolved into
//! [`RateLimitSettings`], each refusal with its place
//! (`policies.per-user.rate_limit.rate`). The Redis password is read here,
//! from its file or variable.

use std::{net::IpAddr, path::Path, time::Duration};

use http::HeaderName;
use ipnet::IpNet;

use super::{CompileErrors, Place, settings::duration};
use crate::{
    config::{RateLimitConfig, RateLimitStoreConfig, RedisConfig},
    policy::rate_limit::{
        DEFAULT_MAX_KEYS, DEFAULT_REDIS_TIMEOUT, Limit, LimitKey, MAX_BURST, Rate, RateLimitSettings,
        RedisSettings, Secret, Store, check_redis_url,
    },
};

/// The longest Redis timeout: a decision never waits on Redis for longer.
const LONGEST_REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// The settings of the rate limit `config` of the policy `name`, whose
/// place is `place` (`policies.<name>.rate_limit`); `None` after an error.
/// A relative `redis.password_file` is taken from `base_dir`.
pub fn rate_limit_settings(
    config: &RateLimitConfig,
    name: &str,
    place: &Place,
    base_dir: &Path,
    errors: &mut CompileErrors,
) -> Option<RateLimitSettings> {
    let before = errors.issues.len();
    let key = key_of(config, place, errors);
    let rate = rate_of(&config.rate, &place.key("rate"), errors);
    let default_burst = rate.map_or(1, |rate| rate.count().min(MAX_BURST));
    let burst = burst_of(config.burst, default_burst, &place.key("burst"), errors);
    let max_keys = match config.max_keys.map(usize::try_from) {
        None => DEFAULT_MAX_KEYS,
        Some(Ok(keys)) if keys > 0 => keys,
        Some(_) => {
            errors.push(place.key("max_keys"), "must be at least 1 (and fit this machine)");
            DEFAULT_MAX_KEYS
        }
    };
    let store = match (config.store, &config.redis) {
        (RateLimitStoreConfig::Local, None) => {
            if config.fallback.is_some() {
                errors.push(place.key("fallback"), "applies only with store: redis");
            }
            Some(Store::Local)
        }
        (RateLimitStoreConfig::Local, Some(_)) => {
            errors.push(place.key("redis"), "is set but store is local: add store: redis or remove it");
            None
        }
        (RateLimitStoreConfig::Redis, None) => {
            errors.push(place.key("redis"), "is required with store: redis");
            None
        }
        (RateLimitStoreConfig::Redis, Some(redis)) => {
            let limit = rate.map(|rate| Limit { rate, burst });
            redis_of(config, redis, limit, name, place, base_dir, errors).map(Store::Redis)
        }
    };
    if errors.issues.len() > before {
        return None;
    }
    Some(RateLimitSettings { key: key?, limit: Limit { rate: rate?, burst }, store: store?, max_keys })
}

fn key_of(config: &RateLimitConfig, place: &Place, errors: &mut CompileErrors) -> Option<LimitKey> {
    let text = config.key.trim();
    let key = match text.split_once(':') {
        None if text == "ip" => {
            Some(LimitKey::ClientIp { trusted_proxies: trusted_proxies(config, place, errors) })
        }
        None if text == "consumer" => Some(LimitKey::Consumer),
        None if text == "client_cert" => Some(LimitKey::ClientCertificate),
        None if text == "route" => Some(LimitKey::Route),
        Some(("header", name)) => {
            let name = name.trim();
            let parsed = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok();
            if parsed.is_none() {
                errors.push(place.key("key"), format!("invalid header name {name:?}"));
            }
            parsed.map(LimitKey::Header)
        }
        Some(("claim", name)) if !name.trim().is_empty() => Some(LimitKey::Claim(name.trim().to_owned())),
        _ => {
            errors.push(
                place.key("key"),
                format!(
                    "invalid key {text:?}: write ip, header:<name>, client_cert, consumer, claim:<name> or route"
                ),
            );
            None
        }
    };
    if text != "ip" && !config.trusted_proxies.is_empty() {
        errors.push(place.key("trusted_proxies"), "applies only with key: ip");
    }
    key
}

fn trusted_proxies(config: &RateLimitConfig, place: &Place, errors: &mut CompileErrors) -> Vec<IpNet> {
    let mut nets = Vec::with_capacity(config.trusted_proxies.len());
    for (index, text) in config.trusted_proxies.iter().enumerate() {
        let text = text.trim();
        match text.parse::<IpNet>().or_else(|_| text.parse::<IpAddr>().map(IpNet::from)) {
            Ok(net) => nets.push(net),
            Err(_) => errors.push(
                place.key("trusted_proxies").index(index),
                format!(
                    "invalid address or CIDR block {text:?} (write 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32)"
                ),
            ),
        }
    }
    nets
}

fn rate_of(text: &str, place: &Place, errors: &mut CompileErrors) -> Option<Rate> {
    text.parse::<Rate>().map_err(|message| errors.push(place, message)).ok()
}

fn burst_of(burst: Option<u32>, default: u32, place: &Place, errors: &mut CompileErrors) -> u32 {
    match burst {
        None => default,
        Some(burst) if (1..=MAX_BURST).contains(&burst) => burst,
        Some(burst) => {
            errors.push(place, format!("{burst} is not between 1 and {MAX_BURST}"));
            default
        }
    }
}

fn redis_of(
    config: &RateLimitConfig,
    redis: &RedisConfig,
    limit: Option<Limit>,
    name: &str,
    place: &Place,
    base_dir: &Path,
    errors: &mut CompileErrors,
) -> Option<RedisSettings> {
    let redis_place = place.key("redis");
    if let Err(error) = check_redis_url(&redis.url) {
        errors.push(redis_place.key("url"), error);
    }
    let password = password_of(redis, &redis_place, base_dir, errors);
    let ca_pem = ca_of(redis, &redis_place, base_dir, errors);
    let timeout = duration(redis.timeout, DEFAULT_REDIS_TIMEOUT, &redis_place.key("timeout"), errors);
    if timeout > LONGEST_REDIS_TIMEOUT {
        errors
            .push(redis_place.key("timeout"), format!("{timeout:?} is longer than the longest allowed, 1s"));
    }
    let fallback = match &config.fallback {
        None => limit,
        Some(fallback) => {
            let fallback_place = place.key("fallback");
            let rate = match &fallback.rate {
                Some(text) => rate_of(text, &fallback_place.key("rate"), errors),
                None => limit.map(|limit| limit.rate),
            };
            let default_burst = match (&fallback.rate, rate, limit) {
                (None, _, Some(limit)) => limit.burst,
                (_, Some(rate), _) => rate.count().min(MAX_BURST),
                _ => 1,
            };
            let burst = burst_of(fallback.burst, default_burst, &fallback_place.key("burst"), errors);
            rate.map(|rate| Limit { rate, burst })
        }
    };
    Some(RedisSettings {
        url: redis.url.clone(),
        password: password?,
        timeout,
        key_prefix: redis.key_prefix.clone().unwrap_or_else(|| format!("protogate:rl:{name}:")),
        fallback: fallback?,
        ca_pem: ca_pem?,
    })
}

/// The CA certificates of `ca_file`, read now: `Some(None)` without one;
/// `None`: an error was recorded.
fn ca_of(
    redis: &RedisConfig,
    place: &Place,
    base_dir: &Path,
    errors: &mut CompileErrors,
) -> Option<Option<Vec<u8>>> {
    let Some(path) = &redis.ca_file else { return Some(None) };
    let place = place.key("ca_file");
    if !redis.url.starts_with("rediss://") {
        errors.push(place, "applies to a rediss:// url only");
        return None;
    }
    match std::fs::read(base_dir.join(path)) {
        Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => Some(Some(pem)),
        Ok(_) => {
            errors.push(place, format!("{} holds no PEM certificate", path.display()));
            None
        }
        Err(error) => {
            errors.push(place, format!("cannot read {}: {error}", path.display()));
            None
        }
    }
}

/// `Some(None)`: no password; `None`: an error was recorded.
fn password_of(
    redis: &RedisConfig,
    place: &Place,
    base_dir: &Path,
    errors: &mut CompileErrors,
) -> Option<Option<Secret>> {
    let secret = |text: &str, place: Place, errors: &mut CompileErrors| {
        let text = text.trim();
        if text.is_empty() {
            errors.push(place, "the password is empty");
            return None;
        }
        Some(Some(Secret::new(text)))
    };
    match (&redis.password_file, &redis.password_env) {
        (None, None) => Some(None),
        (Some(_), Some(_)) => {
            errors.push(place, "give one of password_file and password_env, not both");
            None
        }
        (Some(path), None) => match std::fs::read_to_string(base_dir.join(path)) {
            Ok(text) => secret(&text, place.key("password_file"), errors),
            Err(error) => {
                errors.push(place.key("password_file"), format!("cannot read {}: {error}", path.display()));
                None
            }
        },
        (None, Some(variable)) => match std::env::var(variable) {
            Ok(text) => secret(&text, place.key("password_env"), errors),
            Err(_) => {
                errors.push(place.key("password_env"), format!("the variable {variable} is not set"));
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str) -> Result<RateLimitSettings, String> {
        compile_in(yaml, Path::new("."))
    }

    fn compile_in(yaml: &str, base_dir: &Path) -> Result<RateLimitSettings, String> {
        let config: RateLimitConfig = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        let mut errors = CompileErrors::default();
        let place = Place::root().key("policies").key("per-user").key("rate_limit");
        let settings = rate_limit_settings(&config, "per-user", &place, base_dir, &mut errors);
        match settings {
            Some(settings) if errors.is_empty() => Ok(settings),
            _ => Err(errors.to_string()),
        }
    }

    #[test]
    fn a_local_limit_with_defaults() {
        let settings = compile("{ key: 'claim:sub', rate: 100/s }").unwrap();
        assert_eq!(settings.key, LimitKey::Claim("sub".into()));
        assert_eq!(settings.limit.burst, 100);
        assert_eq!(settings.limit.rate.to_string(), "100/s");
        assert_eq!((settings.store, settings.max_keys), (Store::Local, DEFAULT_MAX_KEYS));
        let settings = compile("{ key: ip, rate: 5/m, burst: 7, trusted_proxies: [10.0.0.0/8, 192.0.2.1] }");
        let LimitKey::ClientIp { trusted_proxies } = settings.unwrap().key else { panic!("not ip") };
        assert_eq!(trusted_proxies.len(), 2);
    }

    #[test]
    fn every_mistake_is_reported_with_its_place() {
        let errors = compile(
            "{ key: 'header:bad name', rate: 100/x, burst: 0, max_keys: 0, trusted_proxies: [nonsense] }",
        )
        .unwrap_err();
        let expected = [
            "policies.per-user.rate_limit.key: invalid header name \"bad name\"",
            "policies.per-user.rate_limit.trusted_proxies: applies only with key: ip",
            "policies.per-user.rate_limit.rate: invalid rate \"100/x\"",
            "policies.per-user.rate_limit.burst: 0 is not between 1 and 1000000",
            "policies.per-user.rate_limit.max_keys: must be at least 1",
        ];
        for line in expected {
            assert!(errors.contains(line), "{line}\nnot in\n{errors}");
        }
        let errors = compile("{ key: claim, rate: 1/s }").unwrap_err();
        assert!(errors.contains("rate_limit.key: invalid key \"claim\""), "{errors}");
    }

    #[test]
    fn redis_needs_its_block_and_a_password_from_outside_the_yaml() {
        let errors = compile("{ key: route, rate: 1/s, store: redis }").unwrap_err();
        assert_eq!(errors, "policies.per-user.rate_limit.redis: is required with store: redis");
        let errors = compile("{ key: route, rate: 1/s, redis: { url: 'redis://h' } }").unwrap_err();
        assert!(errors.contains("but store is local"), "{errors}");
        let errors = compile("{ key: route, rate: 1/s, store: redis, redis: { url: 'redis://:pw@h:6379' } }")
            .unwrap_err();
        assert!(errors.starts_with("policies.per-user.rate_limit.redis.url: "), "{errors}");
        assert!(errors.contains("password_file or password_env"), "{errors}");
        let yaml = "{ key: route, rate: 1/s, store: redis, redis: { url: 'redis://h', password_env: PROTOGATE_TEST_UNSET_VARIABLE } }";
        let errors = compile(yaml).unwrap_err();
        assert!(
            errors.contains("redis.password_env: the variable PROTOGATE_TEST_UNSET_VARIABLE is not set"),
            "{errors}"
        );
    }

    #[test]
    fn redis_settings_with_a_password_file_and_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "s3cret\n").unwrap();
        let yaml = format!(
            "{{ key: consumer, rate: 100/s, burst: 200, store: redis, fallback: {{ rate: 10/s }},
               redis: {{ url: 'rediss://cache.internal:6380', password_file: '{}', timeout: 20ms }} }}",
            file.display()
        );
        let Store::Redis(redis) = compile(&yaml).unwrap().store else { panic!("not redis") };
        assert_eq!(redis.password, Some(Secret::new("s3cret")));
        assert_eq!(redis.timeout, Duration::from_millis(20));
        assert_eq!(redis.key_prefix, "protogate:rl:per-user:");
        assert_eq!((redis.fallback.rate.to_string(), redis.fallback.burst), ("10/s".to_owned(), 10));
        let yaml = "{ key: route, rate: 100/s, burst: 200, store: redis, redis: { url: 'redis://h' } }";
        let Store::Redis(redis) = compile(yaml).unwrap().store else { panic!("not redis") };
        assert_eq!((redis.fallback.burst, redis.timeout), (200, DEFAULT_REDIS_TIMEOUT));
    }

    #[test]
    fn a_relative_password_file_is_read_from_the_config_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("redis.password"), "s3cret").unwrap();
        let yaml = "{ key: route, rate: 1/s, store: redis, redis: { url: 'redis://h', password_file: redis.password } }";
        let Store::Redis(redis) = compile_in(yaml, dir.path()).unwrap().store else { panic!("not redis") };
        assert_eq!(redis.password, Some(Secret::new("s3cret")));
    }
}
