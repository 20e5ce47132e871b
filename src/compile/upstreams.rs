//! `upstreams.<name>` compiled: endpoints, TLS, health checks and the
//! resilience settings resolved, and each upstream built (its channels
//! created, not connected), or kept from the runtime being replaced when
//! its name and settings are the same. Each refusal names its place
//! (`upstreams.library.endpoints[1]`).

use std::{collections::BTreeMap, num::NonZeroU32, path::Path, sync::Arc, time::Duration};

use http::{Uri, uri::PathAndQuery};

use super::{
    CompileErrors, Place,
    resilience::{balancing_of, breaker_of, failure_codes_of, outlier_of, retry_of},
    settings::duration,
};
use crate::{
    config::{CompressionConfig, Config, HealthCheckConfig, ProtocolConfig, TlsConfig},
    runtime::StateStore,
    upstream::{
        BuildError, ClientIdentity, HealthCheckKind, HealthCheckSettings, TlsSettings, Upstream,
        UpstreamProtocol, UpstreamSettings, endpoint_uri,
    },
};

/// How long connecting to an endpoint may take, unless `connect_timeout` says.
pub(super) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The largest message either way, unless `max_response_bytes` or
/// `max_request_bytes` says: what gRPC servers and clients accept by default.
const DEFAULT_MAX_MESSAGE: u64 = 4 << 20;

/// Every upstream of the config that builds, by name: the one `kept` has
/// under its name with equal settings, else a new one. Each goes into `next`.
pub(super) fn build_upstreams(
    config: &Config,
    base_dir: &Path,
    kept: Option<&StateStore>,
    next: &mut StateStore,
    errors: &mut CompileErrors,
) -> BTreeMap<String, Arc<Upstream>> {
    let mut upstreams = BTreeMap::new();
    for (name, upstream) in &config.upstreams {
        let place = Place::root().key("upstreams").key(name);
        let protocol = match upstream.protocol {
            ProtocolConfig::Grpc => UpstreamProtocol::Grpc,
            ProtocolConfig::Http => UpstreamProtocol::Http,
        };
        let mut endpoints = Vec::new();
        for (index, endpoint) in upstream.endpoints.iter().enumerate() {
            match endpoint_uri(endpoint) {
                Ok(uri) if uri.scheme_str() == Some("http") && upstream.tls.is_some() => errors.push(
                    place.key("endpoints").index(index),
                    format!("{endpoint:?} is cleartext but `tls` is set (write https://)"),
                ),
                Ok(uri) => endpoints.push(uri),
                Err(error) => errors.push(place.key("endpoints").index(index), error),
            }
        }
        let tls = upstream.tls.as_ref().and_then(|tls| tls_of(tls, base_dir, &place.key("tls"), errors));
        let max_response = upstream.max_response_bytes.map_or(DEFAULT_MAX_MESSAGE, |size| size.0);
        let max_request = upstream.max_request_bytes.map_or(DEFAULT_MAX_MESSAGE, |size| size.0);
        let health_check = upstream.health_check.as_ref().and_then(|checks| {
            health_check(checks, protocol, &endpoints, &place.key("health_check"), errors)
        });
        let settings = UpstreamSettings {
            protocol,
            endpoints,
            dns_refresh: duration(
                upstream.dns_refresh,
                UpstreamSettings::DEFAULT_DNS_REFRESH,
                &place.key("dns_refresh"),
                errors,
            ),
            connect_timeout: duration(
                upstream.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT,
                &place.key("connect_timeout"),
                errors,
            ),
            max_response_bytes: usize::try_from(max_response).unwrap_or(usize::MAX),
            max_request_bytes: usize::try_from(max_request).unwrap_or(usize::MAX),
            health_check,
            balancing: balancing_of(upstream.balancing),
            outlier: outlier_of(&upstream.outlier, &place, errors),
            breaker: breaker_of(&upstream.breaker, &place, errors),
            failure_codes: failure_codes_of(upstream.failure_codes.as_deref(), &place, errors),
            retry: retry_of(&upstream.retry, &place, errors),
            tls,
            gzip: upstream.compression == CompressionConfig::Gzip,
        };
        if protocol == UpstreamProtocol::Http && settings.gzip {
            errors.push(place.key("compression"), "only for gRPC upstreams");
        }
        if let Some(upstream) = kept.and_then(|kept| kept.upstreams.get(name, &settings)) {
            tracing::debug!(upstream = %name, "unchanged: its connections and state are kept");
            next.upstreams.put(name, settings, upstream.clone());
            upstreams.insert(name.clone(), upstream);
            continue;
        }
        match Upstream::new(name, &settings) {
            Ok(built) => {
                let built = Arc::new(built);
                next.upstreams.put(name, settings, built.clone());
                upstreams.insert(name.clone(), built);
            }
            Err(BuildError::NoEndpoints) if !upstream.endpoints.is_empty() => {}
            Err(error @ (BuildError::NoEndpoints | BuildError::Endpoint(_))) => {
                errors.push(place.key("endpoints"), error)
            }
            Err(error) => errors.push(place.key("tls"), error),
        }
    }
    upstreams
}

/// `upstreams.<name>.tls`, its paths taken from `base_dir`; `None` after
/// an error (recorded).
fn tls_of(
    config: &TlsConfig,
    base_dir: &Path,
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<TlsSettings> {
    let identity = match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => {
            Some(ClientIdentity { cert_file: base_dir.join(cert), key_file: base_dir.join(key) })
        }
        (None, None) => None,
        _ => {
            errors.push(place, "`cert_file` and `key_file` go together (a client certificate and its key)");
            return None;
        }
    };
    if config.server_name.as_deref().is_some_and(str::is_empty) {
        errors.push(place.key("server_name"), "must not be empty");
        return None;
    }
    Some(TlsSettings {
        ca_file: config.ca_file.as_ref().map(|ca| base_dir.join(ca)),
        identity,
        server_name: config.server_name.clone(),
    })
}

/// The health checks of an upstream, checked against its protocol; `None`
/// after an error (recorded).
fn health_check(
    checks: &HealthCheckConfig,
    protocol: UpstreamProtocol,
    endpoints: &[Uri],
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<HealthCheckSettings> {
    let before = errors.issues.len();
    let interval =
        duration(checks.interval, HealthCheckSettings::DEFAULT_INTERVAL, &place.key("interval"), errors);
    let timeout =
        duration(checks.timeout, HealthCheckSettings::DEFAULT_TIMEOUT, &place.key("timeout"), errors);
    let healthy_threshold = threshold(checks.healthy_threshold, &place.key("healthy_threshold"), errors);
    let unhealthy_threshold =
        threshold(checks.unhealthy_threshold, &place.key("unhealthy_threshold"), errors);
    let kind = match protocol {
        UpstreamProtocol::Grpc => {
            if checks.path.is_some() {
                errors.push(place.key("path"), "only for HTTP upstreams (gRPC ones are asked `service`)");
            }
            HealthCheckKind::Grpc {
                service: checks.service.clone().unwrap_or_default(),
                watch: checks.watch.unwrap_or(false),
            }
        }
        UpstreamProtocol::Http => {
            for key in [checks.service.as_ref().map(|_| "service"), checks.watch.map(|_| "watch")]
                .into_iter()
                .flatten()
            {
                errors.push(place.key(key), "only for gRPC upstreams (HTTP ones are asked `path`)");
            }
            if endpoints.iter().any(|uri| uri.scheme_str() == Some("https")) {
                errors.push(place, "health checks over TLS not supported yet (an endpoint is https://)");
            }
            let path = match checks.path.as_deref() {
                None => {
                    errors.push(place.key("path"), "required for an HTTP upstream (e.g. /healthz)");
                    None
                }
                Some(path) if !path.starts_with('/') => {
                    errors.push(place.key("path"), format!("{path:?} must start with /"));
                    None
                }
                Some(path) => path
                    .parse::<PathAndQuery>()
                    .map_err(|e| errors.push(place.key("path"), format!("{path:?}: {e}")))
                    .ok(),
            };
            HealthCheckKind::Http { path: path? }
        }
    };
    let settings = HealthCheckSettings { interval, timeout, healthy_threshold, unhealthy_threshold, kind };
    (errors.issues.len() == before).then_some(settings)
}

/// A health-check threshold: at least 1, default 2.
fn threshold(value: Option<u32>, place: &Place, errors: &mut CompileErrors) -> NonZeroU32 {
    match value.map(NonZeroU32::new) {
        None => HealthCheckSettings::DEFAULT_THRESHOLD,
        Some(Some(threshold)) => threshold,
        Some(None) => {
            errors.push(place, "must be at least 1");
            HealthCheckSettings::DEFAULT_THRESHOLD
        }
    }
}
