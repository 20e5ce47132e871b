//! The compile step: `Config` → `Runtime`, collecting every error.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use http::HeaderName;
use prost_reflect::{MethodDescriptor, ServiceDescriptor};

use super::{CompileErrors, Limits, RouteSummary, Runtime, issues::unknown_name};
use crate::{
    config::{Config, GrpcRouteConfig, JsonConfig, RouteConfig},
    http_rule::{Binding, BodySelector, bindings_of, unannotated_binding},
    router::RouterBuilder,
    schema::{DescriptorSource, Schema},
    transcode::{
        bind::{BindOptions, RequestBinder},
        metadata::MetadataRules,
        render::{RenderOptions, ResponseRenderer},
        target::{TargetParts, TranscodeTarget},
    },
    upstream::{Upstream, UpstreamSettings},
};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_MAX_BODY: u64 = 4 << 20;
const DEFAULT_MAX_HEADER: u64 = 64 << 10;
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

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
    let metadata = Arc::new(metadata_rules(config, &mut errors));

    let mut routes =
        RoutesBuilder { router: RouterBuilder::new(), summaries: Vec::new(), errors: &mut errors };
    if let Some(schema) = &schema {
        for (index, route) in config.routes.iter().enumerate() {
            routes.add_route(index, route, config, schema, &upstreams, &metadata);
        }
    }
    let RoutesBuilder { router, summaries, .. } = routes;
    match (listen, schema, errors.is_empty()) {
        (Some(listen), Some(_), true) => {
            Ok(Runtime { listen, router: router.build(), routes: summaries, limits })
        }
        _ => Err(errors),
    }
}

fn limits_of(config: &Config, errors: &mut CompileErrors) -> Limits {
    let size =
        |value: Option<crate::config::ByteSize>, default: u64, place: &str, errors: &mut CompileErrors| {
            let bytes = value.map_or(default, |size| size.0);
            usize::try_from(bytes).unwrap_or_else(|_| {
                errors.push(place, format!("{bytes} bytes is too large for this machine"));
                usize::MAX
            })
        };
    Limits {
        max_body_bytes: size(config.limits.max_body_bytes, DEFAULT_MAX_BODY, "limits.max_body_bytes", errors),
        max_header_bytes: size(
            config.limits.max_header_bytes,
            DEFAULT_MAX_HEADER,
            "limits.max_header_bytes",
            errors,
        ),
        header_read_timeout: config.limits.header_read_timeout.map_or(DEFAULT_HEADER_READ_TIMEOUT, |d| d.0),
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
        let settings = UpstreamSettings {
            endpoints: upstream.endpoints.clone(),
            connect_timeout: upstream.connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0),
        };
        match Upstream::new(name, &settings) {
            Ok(built) => {
                upstreams.insert(name.clone(), Arc::new(built));
            }
            Err(error) => errors.push(format!("upstreams.{name}.endpoints"), error),
        }
    }
    upstreams
}

fn metadata_rules(config: &Config, errors: &mut CompileErrors) -> MetadataRules {
    let mut allow = Vec::new();
    for (index, name) in config.transcoding.forward_headers.iter().enumerate() {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) => allow.push(name),
            Err(_) => errors.push(
                format!("transcoding.forward_headers[{index}]"),
                format!("{name:?} is not a header name"),
            ),
        }
    }
    MetadataRules::new(allow)
}

/// What one route's compile needs besides the binding itself.
struct MethodContext<'a> {
    place: &'a str,
    upstream: &'a Arc<Upstream>,
    metadata: &'a Arc<MetadataRules>,
    timeout: Duration,
    json: JsonConfig,
}

struct RoutesBuilder<'e> {
    router: RouterBuilder<Arc<TranscodeTarget>>,
    summaries: Vec<RouteSummary>,
    errors: &'e mut CompileErrors,
}

impl RoutesBuilder<'_> {
    fn add_route(
        &mut self,
        index: usize,
        route: &RouteConfig,
        config: &Config,
        schema: &Schema,
        upstreams: &BTreeMap<String, Arc<Upstream>>,
        metadata: &Arc<MetadataRules>,
    ) {
        let place = format!("routes[{index}]");
        let Some(grpc) = &route.grpc else {
            self.errors.push(place, "a route needs `grpc` (a service to transcode)");
            return;
        };
        let service = schema.pool().get_service_by_name(&grpc.service);
        if service.is_none() {
            let known = schema.pool().services().map(|s| s.full_name().to_owned()).collect::<Vec<_>>();
            self.errors.push(
                format!("{place}.grpc.service"),
                unknown_name("service", &grpc.service, known.iter().map(String::as_str)),
            );
        }
        let upstream = upstreams.get(&grpc.upstream);
        if upstream.is_none() && !config.upstreams.contains_key(&grpc.upstream) {
            self.errors.push(
                format!("{place}.grpc.upstream"),
                unknown_name("upstream", &grpc.upstream, config.upstreams.keys().map(String::as_str)),
            );
        }
        let (Some(service), Some(upstream)) = (service, upstream) else { return };
        let context = MethodContext {
            place: &place,
            upstream,
            metadata,
            timeout: route.timeout.or(config.transcoding.timeout).map_or(DEFAULT_TIMEOUT, |d| d.0),
            json: route.json.or(config.transcoding.json),
        };
        let routes_before = self.summaries.len();
        let mut had_errors = false;
        for method in selected_methods(&service, grpc, &place, self.errors) {
            let bindings = match bindings_of_method(&method, schema, config.transcoding.unannotated_methods) {
                Ok(bindings) => bindings,
                Err(error) => {
                    self.errors.push(format!("{place}.grpc.service"), error);
                    had_errors = true;
                    continue;
                }
            };
            for binding in bindings {
                self.add_binding(&method, binding, &context);
            }
        }
        if self.summaries.len() == routes_before && !had_errors && self.errors.is_empty() {
            self.errors.push(
                format!("{place}.grpc.service"),
                format!(
                    "{} has no method with a google.api.http annotation \
                     (set transcoding.unannotated_methods: true to expose them as POST /{}/<Method>)",
                    service.full_name(),
                    service.full_name()
                ),
            );
        }
    }

    fn add_binding(&mut self, method: &MethodDescriptor, binding: Binding, context: &MethodContext<'_>) {
        let place = format!("{}.grpc.service", context.place);
        let what = format!("{} ({} {})", method.full_name(), binding.method, binding.template);
        if method.is_client_streaming() || method.is_server_streaming() {
            self.errors.push(place, format!("{what}: streaming methods are not supported yet"));
            return;
        }
        let json = context.json;
        let bind_options = BindOptions {
            reject_unknown_fields: json.reject_unknown_fields.unwrap_or(false),
            reject_unknown_query_parameters: json.reject_unknown_query_parameters.unwrap_or(false),
            query_plus_is_literal: json.query_plus_is_literal.unwrap_or(false),
        };
        let render_options = RenderOptions {
            use_proto_names: json.use_proto_names.unwrap_or(false),
            omit_defaults: json.omit_defaults.unwrap_or(false),
            enums_as_numbers: json.enums_as_numbers.unwrap_or(false),
        };
        let variables: Vec<Vec<String>> =
            binding.template.variables().iter().map(|v| v.field_path.clone()).collect();
        let fill_update_mask =
            binding.method == http::Method::PATCH && matches!(binding.body, BodySelector::Field(_));
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
            (Err(error), _) | (_, Err(error)) => {
                self.errors.push(place, format!("{what}: {error}"));
                return;
            }
        };
        let target = Arc::new(TranscodeTarget::new(TargetParts {
            method: method.clone(),
            binder,
            renderer,
            upstream: context.upstream.clone(),
            timeout: context.timeout,
            metadata: context.metadata.clone(),
        }));
        let summary = RouteSummary {
            method: binding.method.clone(),
            template: binding.template.to_string(),
            target: method.full_name().to_owned(),
            body: match &binding.body {
                BodySelector::None => String::new(),
                BodySelector::Whole => "*".into(),
                BodySelector::Field(field) => field.clone(),
            },
            response_body: binding.response_body.clone().unwrap_or_default(),
            upstream: context.upstream.name().to_owned(),
        };
        if let Err(conflict) = self.router.insert(binding.method.clone(), &binding.template, target) {
            let message = format!(
                "{} {} is bound twice: by {} and by {}",
                binding.method,
                binding.template,
                conflict.existing.method().full_name(),
                method.full_name()
            );
            self.errors.push(place, message);
            return;
        }
        self.summaries.push(summary);
    }
}

/// The methods of `service` the route takes: all, or those it lists.
fn selected_methods(
    service: &ServiceDescriptor,
    grpc: &GrpcRouteConfig,
    place: &str,
    errors: &mut CompileErrors,
) -> Vec<MethodDescriptor> {
    if grpc.methods.is_empty() {
        return service.methods().collect();
    }
    let mut selected = Vec::new();
    for (index, name) in grpc.methods.iter().enumerate() {
        match service.methods().find(|m| m.name() == name) {
            Some(method) => selected.push(method),
            None => {
                let known = service.methods().map(|m| m.name().to_owned()).collect::<Vec<_>>();
                errors.push(
                    format!("{place}.grpc.methods[{index}]"),
                    unknown_name("method", name, known.iter().map(String::as_str)),
                );
            }
        }
    }
    selected
}

fn bindings_of_method(
    method: &MethodDescriptor,
    schema: &Schema,
    unannotated_methods: bool,
) -> Result<Vec<Binding>, crate::http_rule::HttpRuleError> {
    let annotated = match schema.http_option() {
        Some(option) => bindings_of(method, option)?,
        None => Vec::new(),
    };
    if annotated.is_empty() && unannotated_methods {
        return Ok(vec![unannotated_binding(method)?]);
    }
    Ok(annotated)
}
