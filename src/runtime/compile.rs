//! The compile step: `Config` → `Runtime`, collecting every error.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use super::{
    CompileErrors, Runtime,
    resilience::{balancing_of, breaker_of, failure_codes_of, outlier_of},
    routes::RoutesBuilder,
    settings::{duration, forwarded_headers, limits_of},
};
use crate::{
    config::{Config, ProtocolConfig},
    router::RouterBuilder,
    schema::{DescriptorSource, Schema},
    transcode::metadata::MetadataRules,
    upstream::{Upstream, UpstreamProtocol, UpstreamSettings, endpoint_uri},
};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_MAX_RESPONSE: u64 = 4 << 20;

/// Compiles `config`. Relative paths in it are taken from `base_dir` (the
/// config file's directory); `builtin` descriptor sources are loaded before
/// the config's own (the demo's embedded set). Must run inside a Tokio
/// runtime (upstream channels are created, not connected).
pub fn compile(
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
    let limits = limits_of(config, &mut errors);
    let schema = load_schema(config, base_dir, builtin, &mut errors);
    let upstreams = build_upstreams(config, &mut errors);
    let metadata = Arc::new(MetadataRules::new(forwarded_headers(config, &mut errors)));

    let mut routes = RoutesBuilder::new(config, &mut errors);
    if let Some(schema) = &schema {
        for (index, route) in config.routes.iter().enumerate() {
            routes.add_route(index, route, config, schema, &upstreams, &metadata);
        }
    }
    let (router, summaries): (RouterBuilder<_>, _) = routes.finish();
    match (listen, schema, errors.is_empty()) {
        (Some(listen), Some(_), true) => {
            Ok(Runtime { listen, router: router.build(), routes: summaries, limits, upstreams })
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

fn build_upstreams(config: &Config, errors: &mut CompileErrors) -> BTreeMap<String, Arc<Upstream>> {
    let mut upstreams = BTreeMap::new();
    for (name, upstream) in &config.upstreams {
        let place = format!("upstreams.{name}");
        let protocol = match upstream.protocol {
            ProtocolConfig::Grpc => UpstreamProtocol::Grpc,
            ProtocolConfig::Http => UpstreamProtocol::Http,
        };
        let mut endpoints = Vec::new();
        for (index, endpoint) in upstream.endpoints.iter().enumerate() {
            match endpoint_uri(endpoint, protocol) {
                Ok(uri) => endpoints.push(uri),
                Err(error) => errors.push(format!("{place}.endpoints[{index}]"), error),
            }
        }
        let max_response = upstream.max_response_bytes.map_or(DEFAULT_MAX_RESPONSE, |size| size.0);
        let settings = UpstreamSettings {
            protocol,
            endpoints,
            connect_timeout: duration(
                upstream.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT,
                &format!("{place}.connect_timeout"),
                errors,
            ),
            max_response_bytes: usize::try_from(max_response).unwrap_or(usize::MAX),
            balancing: balancing_of(upstream.balancing),
            outlier: outlier_of(&upstream.outlier, &place, errors),
            breaker: breaker_of(&upstream.breaker, &place, errors),
            failure_codes: failure_codes_of(upstream.failure_codes.as_deref(), &place, errors),
        };
        match Upstream::new(name, &settings) {
            Some(built) => {
                upstreams.insert(name.clone(), Arc::new(built));
            }
            None if upstream.endpoints.is_empty() => {
                errors.push(format!("{place}.endpoints"), "no endpoints")
            }
            None => {}
        }
    }
    upstreams
}
