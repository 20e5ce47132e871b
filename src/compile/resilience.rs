//! An upstream's balancing, outlier ejection, circuit breaker, failure
//! codes and retries, checked and resolved with their defaults. Each refusal names its
//! place (`upstreams.<name>.breaker.failure_ratio`).

use std::{num::NonZeroU32, time::Duration};

use super::{CompileErrors, Place, settings::duration};
use crate::{
    config::{BalancingConfig, BreakerConfig, OutlierConfig, Ratio, RetryConfig},
    suggest::closest,
    upstream::{
        Balancing, BreakerSettings, FailureCodes, OutlierSettings, RetrySettings, code_named, code_names,
    },
};

/// The most tries per call.
const MOST_ATTEMPTS: u32 = 10;
/// The highest floor of retries per second.
const MOST_PER_SECOND: u32 = 10_000;

/// The shortest breaker window: ten buckets of 10ms.
const SHORTEST_WINDOW: Duration = Duration::from_millis(100);

/// The balancing of an upstream.
pub(super) fn balancing_of(balancing: BalancingConfig) -> Balancing {
    match balancing {
        BalancingConfig::RoundRobin => Balancing::RoundRobin,
        BalancingConfig::LeastRequest => Balancing::LeastRequest,
    }
}

/// `upstreams.<name>.outlier`; `place` is the upstream's.
pub(super) fn outlier_of(
    config: &OutlierConfig,
    place: &Place,
    errors: &mut CompileErrors,
) -> OutlierSettings {
    let default = OutlierSettings::default();
    let place = place.key("outlier");
    let base_ejection =
        duration(config.base_ejection, default.base_ejection, &place.key("base_ejection"), errors);
    let mut max_ejection = duration(
        config.max_ejection,
        default.max_ejection.max(base_ejection),
        &place.key("max_ejection"),
        errors,
    );
    if max_ejection < base_ejection {
        errors.push(
            place.key("max_ejection"),
            format!("{max_ejection:?} is shorter than base_ejection ({base_ejection:?})"),
        );
        max_ejection = base_ejection;
    }
    let max_ejected_percent = match config.max_ejected_percent {
        None => default.max_ejected_percent,
        Some(percent) => u8::try_from(percent).ok().filter(|&p| p <= 100).unwrap_or_else(|| {
            errors
                .push(place.key("max_ejected_percent"), format!("{percent} is not a percentage (0 to 100)"));
            default.max_ejected_percent
        }),
    };
    OutlierSettings {
        consecutive_failures: at_least_one(
            config.consecutive_failures,
            default.consecutive_failures,
            &place.key("consecutive_failures"),
            errors,
        ),
        base_ejection,
        max_ejection,
        max_ejected_percent,
    }
}

/// `upstreams.<name>.breaker`; `place` is the upstream's.
pub(super) fn breaker_of(
    config: &BreakerConfig,
    place: &Place,
    errors: &mut CompileErrors,
) -> BreakerSettings {
    let default = BreakerSettings::default();
    let place = place.key("breaker");
    let failure_ratio_ppm = match config.failure_ratio {
        None => default.failure_ratio_ppm,
        Some(Ratio(ppm)) => {
            u32::try_from(ppm).ok().filter(|&ppm| ppm > 0 && ppm <= 1_000_000).unwrap_or_else(|| {
                errors.push(
                    place.key("failure_ratio"),
                    format!("{} is not a ratio above 0 and at most 1 (or 100%)", ppm as f64 / 1e6),
                );
                default.failure_ratio_ppm
            })
        }
    };
    let window = duration(config.window, default.window, &place.key("window"), errors);
    let window = if window < SHORTEST_WINDOW {
        errors.push(place.key("window"), format!("{window:?} is shorter than the shortest allowed, 100ms"));
        default.window
    } else {
        window
    };
    BreakerSettings {
        failure_ratio_ppm,
        minimum_calls: at_least_one(
            config.minimum_calls,
            default.minimum_calls,
            &place.key("minimum_calls"),
            errors,
        ),
        window,
        open_duration: duration(
            config.open_duration,
            default.open_duration,
            &place.key("open_duration"),
            errors,
        ),
        half_open_calls: at_least_one(
            config.half_open_calls,
            default.half_open_calls,
            &place.key("half_open_calls"),
            errors,
        ),
    }
}

/// `upstreams.<name>.failure_codes`; `place` is the upstream's.
pub(super) fn failure_codes_of(
    names: Option<&[String]>,
    place: &Place,
    errors: &mut CompileErrors,
) -> FailureCodes {
    let Some(names) = names else { return FailureCodes::default() };
    let mut codes = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let place = place.key("failure_codes").index(index);
        match code_named(name) {
            Some(tonic::Code::Ok) => errors.push(place, "OK is a success, never a failure"),
            Some(code) => codes.push(code),
            None => {
                let hint = closest(&name.to_ascii_uppercase(), code_names())
                    .map(|known| format!(" (did you mean {known:?}?)"))
                    .unwrap_or_default();
                errors.push(place, format!("{name:?} is not a gRPC code name such as \"UNAVAILABLE\"{hint}"));
            }
        }
    }
    FailureCodes::new(codes)
}

/// `upstreams.<name>.retry`; `place` is the upstream's.
pub(super) fn retry_of(config: &RetryConfig, place: &Place, errors: &mut CompileErrors) -> RetrySettings {
    let default = RetrySettings::default();
    let place = place.key("retry");
    let mut bounded = |value: Option<u32>, default: u32, range: std::ops::RangeInclusive<u32>, key: &str| {
        let value = value.unwrap_or(default);
        if range.contains(&value) {
            value
        } else {
            errors.push(
                place.key(key),
                format!("{value} is out of range ({} to {})", range.start(), range.end()),
            );
            default
        }
    };
    let attempts = bounded(config.attempts, default.attempts.get(), 1..=MOST_ATTEMPTS, "attempts");
    let budget_percent = bounded(
        config.budget_percent,
        default.budget_percent,
        0..=RetrySettings::MAX_BUDGET_PERCENT,
        "budget_percent",
    );
    let min_per_second =
        bounded(config.min_per_second, default.min_per_second, 0..=MOST_PER_SECOND, "min_per_second");
    let backoff = duration(config.backoff, default.backoff, &place.key("backoff"), errors);
    let mut max_backoff =
        duration(config.max_backoff, default.max_backoff.max(backoff), &place.key("max_backoff"), errors);
    if max_backoff < backoff {
        errors
            .push(place.key("max_backoff"), format!("{max_backoff:?} is shorter than backoff ({backoff:?})"));
        max_backoff = backoff;
    }
    RetrySettings {
        attempts: NonZeroU32::new(attempts).unwrap_or(default.attempts),
        budget_percent,
        min_per_second,
        backoff,
        max_backoff,
    }
}

fn at_least_one(value: Option<u32>, default: u32, place: &Place, errors: &mut CompileErrors) -> u32 {
    match value {
        Some(0) => {
            errors.push(place, "must be at least 1");
            default
        }
        Some(value) => value,
        None => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, UpstreamConfig};

    fn upstream(yaml: &str) -> UpstreamConfig {
        let config = Config::from_yaml(&format!("upstreams:\n  u: {yaml}\n"), "t").unwrap();
        config.upstreams["u"].clone()
    }

    fn resolve(yaml: &str) -> (OutlierSettings, BreakerSettings, FailureCodes, Vec<String>) {
        let config = upstream(yaml);
        let mut errors = CompileErrors::default();
        let place = Place::root().key("upstreams").key("u");
        let outlier = outlier_of(&config.outlier, &place, &mut errors);
        let breaker = breaker_of(&config.breaker, &place, &mut errors);
        let codes = failure_codes_of(config.failure_codes.as_deref(), &place, &mut errors);
        let issues = errors.issues.iter().map(|i| format!("{}: {}", i.place, i.message)).collect();
        (outlier, breaker, codes, issues)
    }

    #[test]
    fn defaults_and_every_key() {
        let (outlier, breaker, codes, issues) = resolve("{ endpoints: [] }");
        assert_eq!((outlier, breaker, codes), Default::default());
        assert!(issues.is_empty());
        assert_eq!(balancing_of(upstream("{ endpoints: [] }").balancing), Balancing::RoundRobin);
        assert_eq!(
            balancing_of(upstream("{ endpoints: [], balancing: least_request }").balancing),
            Balancing::LeastRequest
        );

        let (outlier, breaker, codes, issues) = resolve(
            "{ endpoints: [], outlier: { consecutive_failures: 3, base_ejection: 1s, max_ejection: 1m, \
             max_ejected_percent: 100 }, breaker: { failure_ratio: 25%, minimum_calls: 5, window: 30s, \
             open_duration: 300ms, half_open_calls: 1 }, failure_codes: [UNAVAILABLE, RESOURCE_EXHAUSTED] }",
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            outlier,
            OutlierSettings {
                consecutive_failures: 3,
                base_ejection: Duration::from_secs(1),
                max_ejection: Duration::from_secs(60),
                max_ejected_percent: 100,
            }
        );
        assert_eq!(
            breaker,
            BreakerSettings {
                failure_ratio_ppm: 250_000,
                minimum_calls: 5,
                window: Duration::from_secs(30),
                open_duration: Duration::from_millis(300),
                half_open_calls: 1,
            }
        );
        assert!(codes.contains(tonic::Code::ResourceExhausted) && !codes.contains(tonic::Code::Internal));
    }

    #[test]
    fn every_bad_value_is_reported_with_its_place() {
        let (_, _, _, issues) = resolve(
            "{ endpoints: [], outlier: { consecutive_failures: 0, base_ejection: 1m, max_ejection: 10s, \
             max_ejected_percent: 101 }, breaker: { failure_ratio: 1.5, minimum_calls: 0, window: 50ms, \
             open_duration: 0s, half_open_calls: 0 }, failure_codes: [OK, unavailable, NOPE] }",
        );
        let expected = [
            "upstreams.u.outlier.max_ejection: 10s is shorter than base_ejection (60s)",
            "upstreams.u.outlier.max_ejected_percent: 101 is not a percentage (0 to 100)",
            "upstreams.u.outlier.consecutive_failures: must be at least 1",
            "upstreams.u.breaker.failure_ratio: 1.5 is not a ratio above 0 and at most 1 (or 100%)",
            "upstreams.u.breaker.window: 50ms is shorter than the shortest allowed, 100ms",
            "upstreams.u.breaker.minimum_calls: must be at least 1",
            "upstreams.u.breaker.open_duration: must be longer than 0",
            "upstreams.u.breaker.half_open_calls: must be at least 1",
            "upstreams.u.failure_codes[0]: OK is a success, never a failure",
            "upstreams.u.failure_codes[1]: \"unavailable\" is not a gRPC code name such as \"UNAVAILABLE\" (did you mean \"UNAVAILABLE\"?)",
            "upstreams.u.failure_codes[2]: \"NOPE\" is not a gRPC code name such as \"UNAVAILABLE\"",
        ];
        assert_eq!(issues, expected);
    }
}
