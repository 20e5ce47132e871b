//! The compiler: `Config` → [`Runtime`], once, before any request.
//!
//! It loads the descriptors, builds the upstreams and the policies,
//! resolves every name (services, methods, upstreams, policies), parses
//! every template, compiles the binders and renderers and fills the route
//! tables, collecting every error with its [`Place`] instead of stopping at
//! the first. Nothing it builds resolves a name again on the request path.
//! It serves no request itself.

mod auth;
mod descriptors;
mod gather;
mod issues;
mod jwt_auth;
mod listeners;
mod mtls_auth;
mod passthrough;
mod place;
mod policies;
mod rate_limit;
mod resilience;
mod routes;
mod settings;
mod streams;
mod success_status;
mod upstreams;

use std::{collections::BTreeSet, path::Path, sync::Arc};

pub use auth::api_key_settings;
pub use descriptors::{DEFAULT_REFLECTION_REFRESH, reflect};
pub use issues::{CompileErrors, ConfigIssue};
pub use jwt_auth::jwt_settings;
pub use place::Place;
pub use rate_limit::rate_limit_settings;

use crate::{
    config::{Config, OpenApiListener},
    openapi,
    runtime::{OpenApiDocument, Runtime, RuntimeParts, StateStore},
    schema::DescriptorSource,
    server::ListenerSettings,
    task::off_workers,
};
use gather::{Gathered, gather};
use routes::RoutesBuilder;
use settings::{admin_of, limits_of, metadata_rules, observe_of, shutdown_of};

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
/// runtime (upstream channels are created, not connected). Everything is
/// built fresh: [`compile_keeping`] is for a reload.
pub async fn compile(
    config: &Config,
    base_dir: &Path,
    builtin: &[DescriptorSource],
) -> Result<Compiled, CompileErrors> {
    compile_keeping(config, base_dir, builtin, None).await
}

/// Compiles `config` as [`compile`] does, keeping from `kept` (the store of
/// the runtime being replaced) every upstream and stateful policy whose
/// name and settings are unchanged. The new runtime's store holds what it
/// uses, nothing else.
///
/// What waits on the network (reflection sources asked, JWKS fetched,
/// Redis connected) runs on the caller's task ([`gather`]); the CPU work
/// (descriptors decoded and `.proto` sources compiled, every route's
/// binder and renderer, the route tables, the OpenAPI document) runs on a
/// blocking thread ([`off_workers`]), so that requests served on the same
/// runtime do not wait for it.
pub async fn compile_keeping(
    config: &Config,
    base_dir: &Path,
    builtin: &[DescriptorSource],
    kept: Option<&StateStore>,
) -> Result<Compiled, CompileErrors> {
    let gathered = gather(config, base_dir, builtin, kept).await;
    let (config, base_dir) = (config.clone(), base_dir.to_path_buf());
    off_workers(move || build(&config, &base_dir, gathered)).await
}

/// Builds the runtime from `config` and what was `gathered` for it; the
/// errors come in the config's order, as if found in one pass.
fn build(config: &Config, base_dir: &Path, gathered: Gathered) -> Result<Compiled, CompileErrors> {
    let Gathered { mut store, upstreams, descriptors, policies, upstream_errors, policy_errors } = gathered;
    let mut errors = CompileErrors::default();
    let listeners = listeners::listeners_of(config, base_dir, &mut errors);
    let (admin_listen, admin_token) = admin_of(config, base_dir, &mut errors);
    let (body_limits, head) = limits_of(config, &mut errors);
    let shutdown = shutdown_of(config, &mut errors);
    let observe = observe_of(config, base_dir, &mut errors);
    errors.extend(upstream_errors);
    let schema = descriptors.schema(&mut errors);
    let metadata = Arc::new(metadata_rules(config, &mut errors));
    errors.extend(policy_errors);

    let mut routes = RoutesBuilder::new(config, policies, body_limits, &mut errors);
    // Without the schema (a descriptor source failed), routes are still
    // checked for everything that does not need it.
    for (index, route) in config.routes.iter().enumerate() {
        routes.add_route(index, route, config, schema.as_ref(), &upstreams, &metadata);
    }
    let (tables, summaries, operations) = routes.finish();
    match (schema, errors.is_empty()) {
        (Some(_), true) => {
            // Reflection sources keep their upstreams too: the refresh asks them.
            let reflected = descriptors.reflected;
            let used: BTreeSet<&str> = summaries
                .iter()
                .map(|route| route.upstream.as_str())
                .chain(reflected.iter().map(|source| source.upstream.as_str()))
                .collect();
            let upstreams = upstreams.into_iter().filter(|(name, _)| used.contains(name.as_str())).collect();
            store.upstreams.retain(|name| used.contains(name));
            let openapi = OpenApiDocument {
                json: serde_json::to_vec(&openapi::document(&operations)).unwrap_or_default().into(),
                on_main: config.openapi.serve_on == OpenApiListener::Main,
                on_admin: config.openapi.serve_on != OpenApiListener::None,
            };
            let parts =
                RuntimeParts { tables, routes: summaries, body_limits, upstreams, store, reflected, openapi };
            let runtime = Runtime::new(parts);
            Ok(Compiled {
                runtime,
                listeners: ListenerSettings { listeners, admin_listen, admin_token, head, shutdown, observe },
            })
        }
        _ => Err(errors),
    }
}
