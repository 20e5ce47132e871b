//! A `Config` compiled into a `Runtime`: the immutable thing requests are
//! served from.
//!
//! Compile resolves every name (services, methods, upstreams), loads the
//! descriptors, parses every template, builds the router and the targets,
//! and collects every error with its place instead of stopping at the
//! first. Nothing on the request path resolves a name again.

mod auth;
mod compile;
mod issues;
mod jwt_auth;
mod passthrough;
mod policies;
mod rate_limit;
mod resilience;
mod routes;
mod settings;
mod table;

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

pub use auth::api_key_settings;
pub use compile::compile;
pub use issues::{CompileErrors, ConfigIssue};
pub use jwt_auth::jwt_settings;
pub use rate_limit::rate_limit_settings;
pub use table::routes_table;

use crate::{
    policy::{PolicyChain, cors::CorsPolicy},
    proxy::ProxyTarget,
    router::{AnswersPreflights, PrefixTable, Router, RouterBuilder, ServiceTable, Tables},
    transcode::target::TranscodeTarget,
    upstream::Upstream,
};

/// Limits on what a client may send, resolved from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body.
    pub max_body_bytes: usize,
    /// The largest request head.
    pub max_header_bytes: usize,
    /// The time a client has to send the request head (HTTP/1).
    pub header_read_timeout: Duration,
    /// The time a client has to send the request body.
    pub body_read_timeout: Duration,
    /// The most requests one HTTP/2 connection may have open at once.
    pub max_concurrent_streams: u32,
}

/// One line of the route table, as `protogate routes` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSummary {
    /// The HTTP method(s): one, a comma-separated list, or `*` for any.
    pub method: String,
    /// The path template.
    pub template: String,
    /// The gRPC method called, by full name.
    pub target: String,
    /// What the body fills: `*`, a field, or empty.
    pub body: String,
    /// The reply field rendered, or empty for the whole reply.
    pub response_body: String,
    /// The upstream called.
    pub upstream: String,
}

/// A target and the policies that guard it: what a routing table holds.
#[derive(Debug)]
pub struct Guarded<T> {
    /// The target.
    pub target: T,
    /// The route's policy chain.
    pub policies: Arc<PolicyChain>,
}

impl<T> AnswersPreflights for Guarded<T> {
    type Answerer = CorsPolicy;

    fn preflight_answerer(&self) -> Option<&CorsPolicy> {
        self.policies.cors()
    }
}

/// A transcoded binding's entry in the routing table.
pub type TranscodedRoute = Arc<Guarded<TranscodeTarget>>;

/// A pass-through route's (or a native gRPC service's) entry in the routing table.
pub type ProxiedRoute = Arc<Guarded<ProxyTarget>>;

/// The three indexes of the one routing table (see [`crate::router`]).
#[derive(Default)]
pub struct RouteTables {
    /// Transcoded bindings, by template.
    pub templates: RouterBuilder<TranscodedRoute>,
    /// Pass-through routes, by prefix.
    pub prefixes: PrefixTable<ProxiedRoute>,
    /// Native gRPC pass-through, by service.
    pub services: ServiceTable<ProxiedRoute>,
}

/// A compiled configuration.
pub struct Runtime {
    listen: SocketAddr,
    admin_listen: Option<SocketAddr>,
    router: Router<TranscodedRoute>,
    prefixes: PrefixTable<ProxiedRoute>,
    services: ServiceTable<ProxiedRoute>,
    routes: Vec<RouteSummary>,
    limits: Limits,
    upstreams: BTreeMap<String, Arc<Upstream>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("listen", &self.listen).field("routes", &self.routes.len()).finish()
    }
}

impl Runtime {
    /// The address to listen on.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// The address of the admin listener, if one is configured.
    pub fn admin_listen(&self) -> Option<SocketAddr> {
        self.admin_listen
    }

    /// The routing table.
    pub fn router(&self) -> &Router<TranscodedRoute> {
        &self.router
    }

    /// The three indexes, for [`crate::router::decide`].
    pub fn tables(&self) -> Tables<'_, TranscodedRoute, ProxiedRoute> {
        Tables { templates: &self.router, prefixes: &self.prefixes, services: &self.services }
    }

    /// The pass-through routes.
    pub fn prefixes(&self) -> &PrefixTable<ProxiedRoute> {
        &self.prefixes
    }

    /// The services that take native gRPC calls.
    pub fn services(&self) -> &ServiceTable<ProxiedRoute> {
        &self.services
    }

    /// The route table, in config order.
    pub fn routes(&self) -> &[RouteSummary] {
        &self.routes
    }

    /// The client limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The upstreams that routes use, by name.
    pub fn upstreams(&self) -> &BTreeMap<String, Arc<Upstream>> {
        &self.upstreams
    }
}
