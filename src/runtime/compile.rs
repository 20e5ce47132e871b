//! The compile step: `Config` → `Runtime`, collecting every error.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    num::NonZeroU32,
    path::Path,
    sync::Arc,
    time::Duration,
};

use http::{Uri, uri::PathAndQuery};

use super::{
    CompileErrors, Runtime,
    policies::Policies,
    resilience::{balancing_of, breaker_of, failure_codes_of, outlier_of, retry_of},
    routes::RoutesBuilder,
    settings::{duration, limits_of, metadata_rules},
};
use crate::{
    config::{CompressionConfig, Config, HealthCheckConfig, ProtocolConfig, TlsConfig},
    schema::{DescriptorSource, Schema},
    upstream::{
        BuildError, ClientIdentity, HealthCheckKind, HealthCheckSettings, TlsSettings, Upstream,
        UpstreamProtocol, UpstreamSettings, endpoint_uri,
    },
};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_MAX_RESPONSE: u64 = 4 << 20;

/// Compiles `config`. Relative paths in it are taken from `base_dir` (the
/// config file's directory); `builtin` descriptor sources are loaded before
/// the config's own (the demo's embedded set). Must run inside a Tokio
/// runtime (upstream channels are created, not connected).
pub async fn compile(
    config: &Config,
    base_dir: &Path,
    builtin: &[DescriptorSource],
) -> Result<Runtime, CompileErrors> {
    let mut errors = CompileErrors::default();
    let listen = config
        .listen
        .parse::<SocketAddr>()
        .map_err(|e| errors.push("listen", format!("{:?}: {e}", config.listen)))
        .ok();
    let admin_listen = config.admin.as_ref().and_then(|admin| {
        admin
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| errors.push("admin.listen", format!("{:?}: {e}", admin.listen)))
            .ok()
    });
    let limits = limits_of(config, &mut errors);
    let schema = load_schema(config, base_dir, builtin, &mut errors);
    let upstreams = build_upstreams(config, base_dir, &mut errors);
    let metadata = Arc::new(metadata_rules(config, &mut errors));

    let policies = Policies::compile(config, base_dir, &mut errors).await;
    let mut routes = RoutesBuilder::new(config, policies, &mut errors);
    if let Some(schema) = &schema {
        for (index, route) in config.routes.iter().enumerate() {
            routes.add_route(index, route, config, schema, &upstreams, &metadata);
        }
    }
    let (tables, summaries) = routes.finish();
    match (listen, schema, errors.is_empty()) {
        (Some(listen), Some(_), true) => {
            let used: BTreeSet<&str> = summaries.iter().map(|route| route.upstream.as_str()).collect();
            let upstreams = upstreams.into_iter().filter(|(name, _)| used.contains(name.as_str())).collect();
            Ok(Runtime {
                listen,
                admin_listen,
                upstreams,
                router: tables.templates.build(),
                prefixes: tables.prefixes,
                services: tables.services,
                routes: summaries,
                limits,
            })
        }
        _ => Err(errors),
    }
}

fn load_schema(
    config: &Config,
    base_dir: &Path,
    builtin: &[DescriptorSource],
    errors: &mut CompileErrors,
) -> Option<Schema> {
    let mut sources = builtin.to_vec();
    for (index, descriptor) in config.descriptors.iter().enumerate() {
        let place = format!("descriptors[{index}]");
        match (&descriptor.file, &descriptor.proto) {
            (Some(file), None) if descriptor.files.is_empty() => {
                sources.push(DescriptorSource::File(base_dir.join(file)))
            }
            (Some(_), None) => errors.push(place, "`files` goes with `proto`, not with `file`"),
            (None, Some(root)) => sources
                .push(DescriptorSource::Proto { root: base_dir.join(root), files: descriptor.files.clone() }),
            _ => errors.push(
                place,
                "set exactly one of `file` (a descriptor set) or `proto` (a directory of .proto files)",
            ),
        }
    }
    if sources.is_empty() {
        errors.push("descriptors", "no descriptor source: add a `file` or a `proto` entry");
        return None;
    }
    Schema::load(&sources).map_err(|e| errors.push("descriptors", e)).ok()
}

fn build_upstreams(
    config: &Config,
    base_dir: &Path,
    errors: &mut CompileErrors,
) -> BTreeMap<String, Arc<Upstream>> {
    let mut upstreams = BTreeMap::new();
    for (name, upstream) in &config.upstreams {
        let place = format!("upstreams.{name}");
        let protocol = match upstream.protocol {
            ProtocolConfig::Grpc => UpstreamProtocol::Grpc,
            ProtocolConfig::Http => UpstreamProtocol::Http,
        };
        let mut endpoints = Vec::new();
        for (index, endpoint) in upstream.endpoints.iter().enumerate() {
            match endpoint_uri(endpoint) {
                Ok(uri) if uri.scheme_str() == Some("http") && upstream.tls.is_some() => errors.push(
                    format!("{place}.endpoints[{index}]"),
                    format!("{endpoint:?} is cleartext but `tls` is set (write https://)"),
                ),
                Ok(uri) => endpoints.push(uri),
                Err(error) => errors.push(format!("{place}.endpoints[{index}]"), error),
            }
        }
        let tls =
            upstream.tls.as_ref().and_then(|tls| tls_of(tls, base_dir, &format!("{place}.tls"), errors));
        let max_response = upstream.max_response_bytes.map_or(DEFAULT_MAX_RESPONSE, |size| size.0);
        let health_check = upstream.health_check.as_ref().and_then(|checks| {
            health_check(checks, protocol, &endpoints, &format!("{place}.health_check"), errors)
        });
        let settings = UpstreamSettings {
            protocol,
            endpoints,
            dns_refresh: duration(
                upstream.dns_refresh,
                UpstreamSettings::DEFAULT_DNS_REFRESH,
                &format!("{place}.dns_refresh"),
                errors,
            ),
            connect_timeout: duration(
                upstream.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT,
                &format!("{place}.connect_timeout"),
                errors,
            ),
            max_response_bytes: usize::try_from(max_response).unwrap_or(usize::MAX),
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
            errors.push(format!("{place}.compression"), "only for gRPC upstreams");
        }
        match Upstream::new(name, &settings) {
            Ok(built) => {
                upstreams.insert(name.clone(), Arc::new(built));
            }
            Err(BuildError::NoEndpoints) if !upstream.endpoints.is_empty() => {}
            Err(error @ (BuildError::NoEndpoints | BuildError::Endpoint(_))) => {
                errors.push(format!("{place}.endpoints"), error)
            }
            Err(error) => errors.push(format!("{place}.tls"), error),
        }
    }
    upstreams
}

/// `upstreams.<name>.tls`, its paths taken from `base_dir`; `None` after
/// an error (recorded).
fn tls_of(
    config: &TlsConfig,
    base_dir: &Path,
    place: &str,
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
        errors.push(format!("{place}.server_name"), "must not be empty");
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
    place: &str,
    errors: &mut CompileErrors,
) -> Option<HealthCheckSettings> {
    let before = errors.issues.len();
    let interval = duration(
        checks.interval,
        HealthCheckSettings::DEFAULT_INTERVAL,
        &format!("{place}.interval"),
        errors,
    );
    let timeout =
        duration(checks.timeout, HealthCheckSettings::DEFAULT_TIMEOUT, &format!("{place}.timeout"), errors);
    let healthy_threshold =
        threshold(checks.healthy_threshold, &format!("{place}.healthy_threshold"), errors);
    let unhealthy_threshold =
        threshold(checks.unhealthy_threshold, &format!("{place}.unhealthy_threshold"), errors);
    let kind = match protocol {
        UpstreamProtocol::Grpc => {
            if checks.path.is_some() {
                errors
                    .push(format!("{place}.path"), "only for HTTP upstreams (gRPC ones are asked `service`)");
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
                errors.push(format!("{place}.{key}"), "only for gRPC upstreams (HTTP ones are asked `path`)");
            }
            if endpoints.iter().any(|uri| uri.scheme_str() == Some("https")) {
                errors.push(place, "health checks over TLS not supported yet (an endpoint is https://)");
            }
            let path = match checks.path.as_deref() {
                None => {
                    errors.push(format!("{place}.path"), "required for an HTTP upstream (e.g. /healthz)");
                    None
                }
                Some(path) if !path.starts_with('/') => {
                    errors.push(format!("{place}.path"), format!("{path:?} must start with /"));
                    None
                }
                Some(path) => path
                    .parse::<PathAndQuery>()
                    .map_err(|e| errors.push(format!("{place}.path"), format!("{path:?}: {e}")))
                    .ok(),
            };
            HealthCheckKind::Http { path: path? }
        }
    };
    let settings = HealthCheckSettings { interval, timeout, healthy_threshold, unhealthy_threshold, kind };
    (errors.issues.len() == before).then_some(settings)
}

/// A health-check threshold: at least 1, default 2.
fn threshold(value: Option<u32>, place: &str, errors: &mut CompileErrors) -> NonZeroU32 {
    match value.map(NonZeroU32::new) {
        None => HealthCheckSettings::DEFAULT_THRESHOLD,
        Some(Some(threshold)) => threshold,
        Some(None) => {
            errors.push(place, "must be at least 1");
            HealthCheckSettings::DEFAULT_THRESHOLD
        }
    }
}
