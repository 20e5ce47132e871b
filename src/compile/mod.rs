//! The compiler: `Config` → [`Runtime`], once, before any request.
//!
//! It loads the descriptors, builds the upstreams and the policies,
//! resolves every name (services, methods, upstreams, policies), parses
//! every template, compiles the binders and renderers and fills the route
//! tables, collecting every error with its [`Place`] instead of stopping at
//! the first. Nothing it builds resolves a name again on the request path.
//! It serves no request itself.

mod auth;
mod issues;
mod jwt_auth;
mod passthrough;
mod place;
mod policies;
mod rate_limit;
mod resilience;
mod routes;
mod settings;
mod upstreams;

use std::{collections::BTreeSet, path::Path, sync::Arc};

pub use auth::api_key_settings;
pub use issues::{CompileErrors, ConfigIssue};
pub use jwt_auth::jwt_settings;
pub use place::Place;
pub use rate_limit::rate_limit_settings;

use crate::{
    config::Config,
    runtime::{Runtime, RuntimeParts},
    schema::{DescriptorSource, Schema},
    server::ListenerSettings,
    transcode::metadata::MetadataRules,
};
use policies::Policies;
use routes::RoutesBuilder;
use settings::{address, admin_of, forwarded_headers, limits_of, shutdown_of};
use upstreams::build_upstreams;

/// A config compiled: the runtime requests read, swappable, and what the
/// listeners are given when they start, which a swap cannot change.
#[derive(Debug)]
pub struct Compiled {
    /// The routes, their policies and upstreams, and the body limits.
    pub runtime: Runtime,
    /// The listeners' addresses and the limits on the request head.
    pub listeners: ListenerSettings,
}

/// Compiles `config`. Relative paths in it are taken from `base_dir` (the
/// config file's directory); `builtin` descriptor sources are loaded before
/// the config's own (the demo's embedded set). Must run inside a Tokio
/// runtime (upstream channels are created, not connected).
pub async fn compile(
    config: &Config,
    base_dir: &Path,
    builtin: &[DescriptorSource],
) -> Result<Compiled, CompileErrors> {
    let mut errors = CompileErrors::default();
    let listen = address(&config.listen, &Place::root().key("listen"), &mut errors);
    let (admin_listen, admin_token) = admin_of(config, base_dir, &mut errors);
    let (body_limits, head) = limits_of(config, &mut errors);
    let shutdown = shutdown_of(config, &mut errors);
    let schema = load_schema(config, base_dir, builtin, &mut errors);
    let upstreams = build_upstreams(config, base_dir, &mut errors);
    let metadata = Arc::new(MetadataRules::new(forwarded_headers(config, &mut errors)));

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
            let runtime = Runtime::new(RuntimeParts { tables, routes: summaries, body_limits, upstreams });
            Ok(Compiled {
                runtime,
                listeners: ListenerSettings { listen, admin_listen, admin_token, head, shutdown },
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
        let place = Place::root().key("descriptors").index(index);
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
        errors
            .push(Place::root().key("descriptors"), "no descriptor source: add a `file` or a `proto` entry");
        return None;
    }
    Schema::load(&sources).map_err(|e| errors.push(Place::root().key("descriptors"), e)).ok()
}
