//! The `Runtime`: the immutable thing requests are served from, and the
//! entries of its tables.
//!
//! [`crate::compile`] builds it from a `Config`, resolving every name once;
//! nothing here resolves a config name, parses a template or reports a
//! config error. A runtime is shared as an `Arc` and replaced whole; what
//! must outlive the swap is kept in its [`StateStore`] for the next one.

mod diff;
mod store;
mod table;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

pub use diff::RouteDiff;
pub use store::{Shelf, StateStore};
pub use table::routes_table;

use crate::{
    policy::{PolicyChain, cors::CorsPolicy},
    proxy::ProxyTarget,
    router::{AnswersPreflights, PrefixTable, Router, RouterBuilder, ServiceTable, Tables, TakesWebSockets},
    transcode::{bind::InputLimits, target::TranscodeTarget},
    upstream::Upstream,
};

/// Limits on the request body, resolved from the config and applied per
/// request (the head's are the listener's: [`crate::server::HeadLimits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// The largest request body.
    pub max_body_bytes: usize,
    /// The time a client has to send the request body.
    pub body_read_timeout: Duration,
    /// What one request may make a transcoded route's binder parse.
    pub input: InputLimits,
    /// The most streams one client connection may have open at once.
    pub max_streams_per_connection: Option<usize>,
}

/// One line of the route table, as `protogate routes` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    /// The config names of the policies it meets, defaults first.
    pub policies: Vec<String>,
}

/// The OpenAPI document of a runtime's routes, encoded, and whether the
/// main listeners serve it.
#[derive(Debug, Clone, Default)]
pub struct OpenApiDocument {
    /// The JSON.
    pub json: bytes::Bytes,
    /// The main listeners answer `GET /openapi.json` with it.
    pub on_main: bool,
    /// The admin listener does.
    pub on_admin: bool,
}

/// A descriptor source read from an upstream's server reflection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflectedSource {
    /// The upstream asked.
    pub upstream: String,
    /// How often it is asked again.
    pub refresh: Duration,
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

impl TakesWebSockets for Guarded<TranscodeTarget> {
    fn takes_websockets(&self) -> bool {
        self.target.streams_requests()
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
    router: Router<TranscodedRoute>,
    prefixes: PrefixTable<ProxiedRoute>,
    services: ServiceTable<ProxiedRoute>,
    routes: Vec<RouteSummary>,
    body_limits: BodyLimits,
    upstreams: BTreeMap<String, Arc<Upstream>>,
    store: StateStore,
    reflected: Vec<ReflectedSource>,
    openapi: OpenApiDocument,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("routes", &self.routes.len()).finish()
    }
}

/// What a [`Runtime`] is made of, as the compiler hands it over.
pub struct RuntimeParts {
    /// The routing tables.
    pub tables: RouteTables,
    /// The route table, in config order.
    pub routes: Vec<RouteSummary>,
    /// The limits on request bodies.
    pub body_limits: BodyLimits,
    /// The upstreams the routes use, by name.
    pub upstreams: BTreeMap<String, Arc<Upstream>>,
    /// What the next runtime may keep.
    pub store: StateStore,
    /// The descriptor sources read from server reflection.
    pub reflected: Vec<ReflectedSource>,
    /// The OpenAPI document of the routes.
    pub openapi: OpenApiDocument,
}

impl Runtime {
    /// A runtime made of `parts`.
    pub fn new(parts: RuntimeParts) -> Self {
        let RuntimeParts { tables, routes, body_limits, upstreams, store, reflected, openapi } = parts;
        Self {
            router: tables.templates.build(),
            prefixes: tables.prefixes,
            services: tables.services,
            routes,
            body_limits,
            upstreams,
            store,
            reflected,
            openapi,
        }
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

    /// The limits on request bodies.
    pub fn body_limits(&self) -> BodyLimits {
        self.body_limits
    }

    /// The OpenAPI document of the routes.
    pub fn openapi(&self) -> &OpenApiDocument {
        &self.openapi
    }

    /// The descriptor sources read from server reflection, which the
    /// refresh asks again.
    pub fn reflected(&self) -> &[ReflectedSource] {
        &self.reflected
    }

    /// The upstreams that routes (and reflection sources) use, by name.
    pub fn upstreams(&self) -> &BTreeMap<String, Arc<Upstream>> {
        &self.upstreams
    }

    /// The state a runtime compiled to replace this one may keep.
    pub fn store(&self) -> &StateStore {
        &self.store
    }
}
