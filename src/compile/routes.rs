//! Routes compiled: for each `routes[i]` of the `grpc` kind, the service's
//! methods, their bindings, a transcoding target per binding, and the
//! router entries (the `http` kind and native gRPC pass-through are in
//! passthrough.rs).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use http::Method;
use prost_reflect::{MethodDescriptor, ServiceDescriptor};

use super::{
    CompileErrors, Place,
    issues::unknown_name,
    passthrough::GrpcPassthrough,
    policies::Policies,
    settings::{duration, positive},
    streams::stream_settings,
    success_status::SuccessStatuses,
};
use crate::{
    config::{Config, GrpcRouteConfig, JsonConfig, ProtocolConfig, RouteConfig, StreamConfig},
    http_rule::{Binding, BodySelector, HttpRuleError, bindings_of, unannotated_binding},
    openapi::{Access, JsonStyle, Operation},
    policy::PolicyChain,
    proxy::HttpClient,
    runtime::{BodyLimits, Guarded, RouteSummary, RouteTables},
    schema::Schema,
    transcode::{
        bind::{BindOptions, InputLimits, RequestBinder},
        idempotency::is_idempotent,
        metadata::MetadataRules,
        render::{RenderOptions, ResponseRenderer},
        stream::StreamCaps,
        target::{TargetParts, TranscodeTarget},
    },
    upstream::Upstream,
};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Envoy's default for a cluster's `max_requests` circuit breaker.
const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// The routing tables and the route table, filled route by route.
pub(super) struct RoutesBuilder<'e> {
    pub(super) tables: RouteTables,
    pub(super) summaries: Vec<RouteSummary>,
    /// Each binding, for the OpenAPI document.
    operations: Vec<Operation>,
    pub(super) default_timeout: Duration,
    /// The most requests in flight on a route that sets no `max_in_flight`.
    default_max_in_flight: usize,
    /// The client limits: bodies, and what a binder may parse.
    pub(super) limits: BodyLimits,
    /// One HTTP client per upstream that pass-through targets use.
    pub(super) clients: BTreeMap<String, HttpClient>,
    policies: Policies,
    pub(super) errors: &'e mut CompileErrors,
}

/// A `grpc` route as the config gives it, with its compiled policies.
struct GrpcRouteContext<'a> {
    place: &'a Place,
    grpc: &'a GrpcRouteConfig,
    route: &'a RouteConfig,
    chain: Arc<PolicyChain>,
    metadata: &'a Arc<MetadataRules>,
}

/// What one route's bindings share.
struct RouteContext<'a> {
    chain: Arc<PolicyChain>,
    place: &'a Place,
    upstream: &'a Arc<Upstream>,
    metadata: &'a Arc<MetadataRules>,
    timeout: Duration,
    json: JsonConfig,
    statuses: SuccessStatuses,
    stream: &'a StreamConfig,
    /// The caps on open streams, one count for all of the route's bindings.
    caps: StreamCaps,
}

/// A method the route takes, and whether the config named it.
struct SelectedMethod {
    method: MethodDescriptor,
    /// `Some(place)` when listed in `grpc.methods`: a method asked for by
    /// name that cannot be served is an error, not a silent skip.
    listed_at: Option<Place>,
}

impl<'e> RoutesBuilder<'e> {
    /// Routes whose calls default to the deadline of `transcoding.timeout`
    /// and that read input within `limits`.
    pub(super) fn new(
        config: &Config,
        policies: Policies,
        limits: BodyLimits,
        errors: &'e mut CompileErrors,
    ) -> Self {
        let default_timeout = duration(
            config.transcoding.timeout,
            DEFAULT_TIMEOUT,
            &Place::root().key("transcoding").key("timeout"),
            errors,
        );
        let place = Place::root().key("limits").key("max_in_flight");
        let default_max_in_flight =
            positive(config.limits.max_in_flight, &place, errors).unwrap_or(DEFAULT_MAX_IN_FLIGHT);
        Self {
            tables: RouteTables::default(),
            summaries: Vec::new(),
            operations: Vec::new(),
            default_timeout,
            default_max_in_flight,
            limits,
            clients: BTreeMap::new(),
            policies,
            errors,
        }
    }

    /// The tables, the route table and the bindings for the OpenAPI document.
    pub(super) fn finish(self) -> (RouteTables, Vec<RouteSummary>, Vec<Operation>) {
        (self.tables, self.summaries, self.operations)
    }

    /// Compiles `routes[index]`, either kind.
    pub(super) fn add_route(
        &mut self,
        index: usize,
        route: &RouteConfig,
        config: &Config,
        schema: Option<&Schema>,
        upstreams: &BTreeMap<String, Arc<Upstream>>,
        metadata: &Arc<MetadataRules>,
    ) {
        let place = Place::root().key("routes").index(index);
        let max_in_flight = positive(route.max_in_flight, &place.key("max_in_flight"), self.errors)
            .unwrap_or(self.default_max_in_flight);
        let chain = self.policies.chain(&place, &route.policies, max_in_flight, config, self.errors);
        match (&route.grpc, &route.http) {
            (Some(grpc), None) => {
                let context = GrpcRouteContext { place: &place, grpc, route, chain, metadata };
                self.add_grpc_route(context, config, schema, upstreams)
            }
            (None, Some(http)) => self.add_http_route(&place, http, route, chain, config, upstreams),
            _ => self.errors.push(
                place,
                "set exactly one of `grpc` (a service to transcode) or `http` (a prefix to pass through)",
            ),
        }
    }

    /// A route's deadline: its own `timeout`, else its upstream's, else
    /// `transcoding.timeout`.
    pub(super) fn route_timeout(
        &mut self,
        place: &Place,
        route: &RouteConfig,
        upstream: &str,
        config: &Config,
    ) -> Duration {
        let upstream_timeout = config.upstreams.get(upstream).and_then(|upstream| upstream.timeout);
        let fallback = duration(
            upstream_timeout,
            self.default_timeout,
            &Place::root().key("upstreams").key(upstream).key("timeout"),
            self.errors,
        );
        duration(route.timeout, fallback, &place.key("timeout"), self.errors)
    }

    /// The upstream a route names, if it exists and speaks `protocol`;
    /// errors at `place` otherwise.
    pub(super) fn upstream_for<'u>(
        &mut self,
        place: &Place,
        name: &str,
        protocol: ProtocolConfig,
        config: &Config,
        upstreams: &'u BTreeMap<String, Arc<Upstream>>,
    ) -> Option<&'u Arc<Upstream>> {
        match config.upstreams.get(name) {
            None => {
                let message = unknown_name("upstream", name, config.upstreams.keys().map(String::as_str));
                self.errors.push(place, message);
                None
            }
            Some(upstream) if upstream.protocol != protocol => {
                let wanted = match protocol {
                    ProtocolConfig::Grpc => "a gRPC upstream (protocol: grpc)",
                    ProtocolConfig::Http => "an HTTP upstream (protocol: http)",
                };
                self.errors.push(place, format!("upstream {name:?} is not {wanted}"));
                None
            }
            // Absent when building it failed: that error is already reported.
            Some(_) => upstreams.get(name),
        }
    }

    /// A `grpc` route. Without a schema (a descriptor source failed, and
    /// that is reported), everything but the service is still checked.
    fn add_grpc_route(
        &mut self,
        route_context: GrpcRouteContext<'_>,
        config: &Config,
        schema: Option<&Schema>,
        upstreams: &BTreeMap<String, Arc<Upstream>>,
    ) {
        let GrpcRouteContext { place, grpc, route, chain, metadata } = route_context;
        let errors_before = self.errors.issues.len();
        let service = schema.and_then(|schema| self.service_of(place, grpc, schema));
        let upstream_place = place.key("grpc").key("upstream");
        let upstream =
            self.upstream_for(&upstream_place, &grpc.upstream, ProtocolConfig::Grpc, config, upstreams);
        let timeout = self.route_timeout(place, route, &grpc.upstream, config);
        let statuses =
            SuccessStatuses::new(&grpc.success_status, &place.key("grpc").key("success_status"), self.errors);
        let (Some(schema), Some(service), Some(upstream)) = (schema, service, upstream) else { return };
        if grpc.passthrough.unwrap_or(true) {
            let upstream_config = &config.upstreams[&grpc.upstream];
            // Native calls reach only the methods the route lists, as REST calls do.
            let methods = (!grpc.methods.is_empty()).then(|| grpc.methods.clone());
            let target = GrpcPassthrough { service: service.full_name(), methods, upstream, timeout };
            self.add_grpc_passthrough(place, target, upstream_config, &chain);
        }
        let json = route.json.or(config.transcoding.json);
        // What the route's policies set on requests (verified claims, the
        // consumer) reaches the backend as metadata too.
        let metadata = match chain.forwarded_headers().next() {
            Some(_) => Arc::new(metadata.with_more(chain.forwarded_headers())),
            None => metadata.clone(),
        };
        let stream = &grpc.stream;
        let place_of_cap = place.key("grpc").key("stream").key("max_concurrent");
        let route_cap = positive(stream.max_concurrent, &place_of_cap, self.errors);
        let caps = StreamCaps::new(route_cap, self.limits.max_streams_per_connection);
        let context = RouteContext {
            place,
            upstream,
            metadata: &metadata,
            timeout,
            json,
            chain,
            statuses,
            stream,
            caps,
        };
        let routes_before = self.summaries.len();
        for selected in selected_methods(&service, grpc, place, self.errors) {
            self.add_method(&selected, schema, config.transcoding.unannotated_methods, &context);
        }
        context.statuses.finish(&service, self.errors);
        if self.summaries.len() == routes_before && self.errors.issues.len() == errors_before {
            self.errors.push(
                place.key("grpc").key("service"),
                format!(
                    "{name} has no method with a google.api.http annotation \
                     (set transcoding.unannotated_methods: true to expose them as POST /{name}/<Method>)",
                    name = service.full_name()
                ),
            );
        }
    }

    /// The service a route names, in `schema`; an error at its place if
    /// there is none (saying so when no descriptors are loaded at all).
    fn service_of(
        &mut self,
        place: &Place,
        grpc: &GrpcRouteConfig,
        schema: &Schema,
    ) -> Option<ServiceDescriptor> {
        let service = schema.pool().get_service_by_name(&grpc.service);
        if service.is_none() {
            let known = schema.pool().services().map(|s| s.full_name().to_owned()).collect::<Vec<_>>();
            let mut message = unknown_name("service", &grpc.service, known.iter().map(String::as_str));
            if schema.pool().files().len() == 0 {
                message.push_str(": no descriptors are loaded (a `grpc` route needs a `descriptors` entry)");
            }
            self.errors.push(place.key("grpc").key("service"), message);
        }
        service
    }

    fn add_method(
        &mut self,
        selected: &SelectedMethod,
        schema: &Schema,
        unannotated_methods: bool,
        context: &RouteContext<'_>,
    ) {
        let method = &selected.method;
        let place = selected.listed_at.clone().unwrap_or_else(|| context.place.key("grpc").key("service"));
        let bindings = match bindings_of_method(method, schema, unannotated_methods) {
            Ok(bindings) => bindings,
            Err(error) => return self.errors.push(place, error),
        };
        if bindings.is_empty() && selected.listed_at.is_some() {
            let message = format!(
                "{} has no google.api.http annotation (set transcoding.unannotated_methods: true to expose it)",
                method.full_name()
            );
            return self.errors.push(place, message);
        }
        for binding in bindings {
            self.add_binding(method, binding, &place, context);
        }
    }

    fn add_binding(
        &mut self,
        method: &MethodDescriptor,
        binding: Binding,
        place: &Place,
        context: &RouteContext<'_>,
    ) {
        let what = format!("{} ({} {})", method.full_name(), binding.method, binding.template);
        let (bind_options, render_options) = json_options(context.json, self.limits.input);
        let variables: Vec<Vec<String>> =
            binding.template.variables().iter().map(|v| v.field_path.clone()).collect();
        let fill_update_mask =
            binding.method == Method::PATCH && matches!(binding.body, BodySelector::Field(_));
        let binder = RequestBinder::compile(
            &method.input(),
            &variables,
            &binding.body,
            fill_update_mask,
            bind_options,
        );
        let renderer =
            ResponseRenderer::compile(&method.output(), binding.response_body.as_deref(), render_options);
        let (binder, renderer) = match (binder, renderer) {
            (Ok(binder), Ok(renderer)) => (binder, renderer),
            (Err(error), _) | (_, Err(error)) => return self.errors.push(place, format!("{what}: {error}")),
        };
        let success_status = context.statuses.of(method, &binding);
        let operation = Operation {
            http_method: binding.method.clone(),
            template: binding.template.clone(),
            method: method.clone(),
            body: binding.body.clone(),
            response_body: binding.response_body.clone(),
            style: JsonStyle {
                use_proto_names: render_options.use_proto_names,
                enums_as_numbers: render_options.enums_as_numbers,
            },
            success_status,
            access: Access::of(&context.chain),
        };
        let target = TranscodeTarget::new(TargetParts {
            method: method.clone(),
            binder,
            renderer,
            upstream: context.upstream.clone(),
            timeout: context.timeout,
            metadata: context.metadata.clone(),
            idempotent: is_idempotent(method, &binding.method),
            success_status,
            stream: (method.is_server_streaming() || method.is_client_streaming()).then(|| {
                let limits = (self.limits.max_body_bytes, context.caps.clone());
                stream_settings(context.stream, method, context.place, limits, self.errors)
            }),
        });
        let guarded = Arc::new(Guarded { target, policies: context.chain.clone() });
        let summary = RouteSummary {
            method: binding.method.to_string(),
            template: binding.template.to_string(),
            target: method.full_name().to_owned(),
            body: match &binding.body {
                BodySelector::None => String::new(),
                BodySelector::Whole => "*".into(),
                BodySelector::Field(field) => field.clone(),
            },
            response_body: binding.response_body.clone().unwrap_or_default(),
            upstream: context.upstream.name().to_owned(),
            policies: context.chain.names.clone(),
        };
        if let Err(conflict) =
            self.tables.templates.insert(binding.method.clone(), &binding.template, guarded)
        {
            let message = format!(
                "{} {} is bound twice: by {} and by {}",
                binding.method,
                binding.template,
                conflict.existing.target.method().full_name(),
                method.full_name()
            );
            return self.errors.push(place, message);
        }
        self.summaries.push(summary);
        self.operations.push(operation);
    }
}

/// The binding and rendering switches, defaults filled in.
fn json_options(json: JsonConfig, limits: InputLimits) -> (BindOptions, RenderOptions) {
    let bind = BindOptions {
        limits,
        reject_unknown_fields: json.reject_unknown_fields.unwrap_or(false),
        reject_unknown_query_parameters: json.reject_unknown_query_parameters.unwrap_or(false),
        query_plus_is_literal: json.query_plus_is_literal.unwrap_or(false),
    };
    let render = RenderOptions {
        use_proto_names: json.use_proto_names.unwrap_or(false),
        omit_defaults: json.omit_defaults.unwrap_or(false),
        enums_as_numbers: json.enums_as_numbers.unwrap_or(false),
    };
    (bind, render)
}

/// The methods of `service` the route takes: all, or those it lists.
fn selected_methods(
    service: &ServiceDescriptor,
    grpc: &GrpcRouteConfig,
    place: &Place,
    errors: &mut CompileErrors,
) -> Vec<SelectedMethod> {
    if grpc.methods.is_empty() {
        return service.methods().map(|method| SelectedMethod { method, listed_at: None }).collect();
    }
    let mut selected = Vec::new();
    for (index, name) in grpc.methods.iter().enumerate() {
        let listed_at = place.key("grpc").key("methods").index(index);
        match service.methods().find(|m| m.name() == name) {
            Some(method) => selected.push(SelectedMethod { method, listed_at: Some(listed_at) }),
            None => {
                let known = service.methods().map(|m| m.name().to_owned()).collect::<Vec<_>>();
                errors.push(listed_at, unknown_name("method", name, known.iter().map(String::as_str)));
            }
        }
    }
    selected
}

fn bindings_of_method(
    method: &MethodDescriptor,
    schema: &Schema,
    unannotated_methods: bool,
) -> Result<Vec<Binding>, HttpRuleError> {
    let annotated = match schema.http_option() {
        Some(option) => bindings_of(method, option)?,
        None => Vec::new(),
    };
    if annotated.is_empty() && unannotated_methods {
        return Ok(vec![unannotated_binding(method)?]);
    }
    Ok(annotated)
}
