//! Pass-through routes compiled: `routes[i]` of the `http` kind become
//! prefix-table entries, and each transcoded service also takes native
//! gRPC calls, proxied as they are to its upstream. Every upstream a proxy
//! target uses gets one HTTP client, shared by its routes.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use http::{HeaderName, HeaderValue, Method};

use super::{Place, routes::RoutesBuilder, upstreams::DEFAULT_CONNECT_TIMEOUT};
use crate::{
    config::{Config, HeaderRulesConfig, HttpRouteConfig, ProtocolConfig, RouteConfig, UpstreamConfig},
    policy::PolicyChain,
    proxy::{
        ClientSettings, HeaderRules, HttpClient, PrefixRewrite, ProxySettings, ProxyTarget, TlsSettings,
    },
    router::PrefixKey,
    runtime::{Guarded, RouteSummary},
    upstream::Upstream,
};

/// A service that takes native gRPC calls, and what they go to.
pub(super) struct GrpcPassthrough<'a> {
    /// The service's full name.
    pub(super) service: &'a str,
    /// The methods served (`None`: all).
    pub(super) methods: Option<Vec<String>>,
    /// Its upstream.
    pub(super) upstream: &'a Arc<Upstream>,
    /// The deadline for the response head.
    pub(super) timeout: Duration,
}

impl RoutesBuilder<'_> {
    /// Compiles a pass-through route.
    pub(super) fn add_http_route(
        &mut self,
        place: &Place,
        http: &HttpRouteConfig,
        route: &RouteConfig,
        chain: Arc<PolicyChain>,
        config: &Config,
        upstreams: &BTreeMap<String, Arc<Upstream>>,
    ) {
        let upstream_place = place.key("http").key("upstream");
        let upstream =
            self.upstream_for(&upstream_place, &http.upstream, ProtocolConfig::Http, config, upstreams);
        let timeout = self.route_timeout(place, route, &http.upstream, config);
        let rewrite = match (http.strip_prefix, &http.replace_prefix) {
            (false, None) => PrefixRewrite::Keep,
            (true, None) => PrefixRewrite::Strip,
            (false, Some(replacement)) if replacement.starts_with('/') => {
                PrefixRewrite::Replace(replacement.clone())
            }
            (false, Some(_)) => {
                self.errors.push(place.key("http").key("replace_prefix"), "must start with /");
                PrefixRewrite::Keep
            }
            (true, Some(_)) => {
                self.errors.push(place.key("http"), "set `strip_prefix` or `replace_prefix`, not both");
                PrefixRewrite::Keep
            }
        };
        let methods = self.methods_of(place, &http.methods);
        let max_body_bytes = match http.max_body_bytes.map(|size| usize::try_from(size.0)) {
            None => self.limits.max_body_bytes,
            Some(Ok(bytes)) => bytes,
            Some(Err(_)) => {
                self.errors.push(place.key("http").key("max_body_bytes"), "too large for this machine");
                self.limits.max_body_bytes
            }
        };
        let request_headers =
            self.header_rules(&place.key("http").key("request_headers"), &http.request_headers);
        let response_headers =
            self.header_rules(&place.key("http").key("response_headers"), &http.response_headers);
        let Some(upstream) = upstream else { return };
        let Some(client) = self.client_for(upstream, &config.upstreams[&http.upstream]) else { return };
        let settings = ProxySettings {
            prefix: http.prefix.clone(),
            rewrite,
            request_headers,
            response_headers,
            timeout,
            preserve_host: http.preserve_host,
            grpc: false,
            allow_encoded_slashes: http.allow_encoded_slashes,
            max_body_bytes: Some(max_body_bytes),
        };
        let policies = chain.names.clone();
        let target = Arc::new(Guarded {
            target: ProxyTarget::new(settings, upstream.clone(), client),
            policies: chain,
        });
        let key =
            PrefixKey { prefix: http.prefix.clone(), host: http.host.clone(), methods: methods.clone() };
        if let Err(error) = self.tables.prefixes.insert(key, target) {
            return self.errors.push(place.key("http").key("prefix"), error);
        }
        let method_names: Vec<&str> = methods.iter().map(Method::as_str).collect();
        self.summaries.push(RouteSummary {
            method: if method_names.is_empty() { "*".into() } else { method_names.join(",") },
            template: format!("{}{}", http.host.as_deref().unwrap_or(""), http.prefix),
            target: "pass-through".into(),
            body: String::new(),
            response_body: String::new(),
            upstream: upstream.name().to_owned(),
            policies,
        });
    }

    /// Native gRPC calls to a service, proxied as they are to its upstream.
    pub(super) fn add_grpc_passthrough(
        &mut self,
        place: &Place,
        passthrough: GrpcPassthrough<'_>,
        upstream_config: &UpstreamConfig,
        chain: &Arc<PolicyChain>,
    ) {
        let GrpcPassthrough { service, methods, upstream, timeout } = passthrough;
        let Some(client) = self.client_for(upstream, upstream_config) else { return };
        let settings = ProxySettings::whole(timeout, true);
        let target = ProxyTarget::new(settings, upstream.clone(), client);
        let target = Arc::new(Guarded { target, policies: chain.clone() });
        if !self.tables.services.insert(service, methods, target) {
            let message = format!(
                "{service} already takes native gRPC calls through an earlier route (set passthrough: false on one)"
            );
            return self.errors.push(place.key("grpc").key("passthrough"), message);
        }
        self.summaries.push(RouteSummary {
            method: "POST".into(),
            template: format!("/{service}/*"),
            target: "gRPC pass-through".into(),
            body: String::new(),
            response_body: String::new(),
            upstream: upstream.name().to_owned(),
            policies: chain.names.clone(),
        });
    }

    /// The shared client of an upstream, built on first use.
    fn client_for(&mut self, upstream: &Arc<Upstream>, config: &UpstreamConfig) -> Option<HttpClient> {
        if let Some(client) = self.clients.get(upstream.name()) {
            return Some(client.clone());
        }
        let any_tls = config.endpoints.iter().any(|endpoint| endpoint.starts_with("https://"));
        let settings = ClientSettings {
            connect_timeout: config.connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0),
            http2_only: config.http2,
            tls: upstream.tls().cloned().or_else(|| any_tls.then(TlsSettings::default)),
        };
        match HttpClient::new(&settings, upstream) {
            Ok(client) => {
                self.clients.insert(upstream.name().to_owned(), client.clone());
                Some(client)
            }
            Err(error) => {
                self.errors.push(Place::root().key("upstreams").key(upstream.name()), error);
                None
            }
        }
    }

    fn methods_of(&mut self, place: &Place, names: &[String]) -> Vec<Method> {
        let mut methods = Vec::new();
        for (index, name) in names.iter().enumerate() {
            match Method::from_bytes(name.as_bytes()) {
                Ok(method) => methods.push(method),
                Err(_) => self.errors.push(
                    place.key("http").key("methods").index(index),
                    format!("{name:?} is not an HTTP method"),
                ),
            }
        }
        methods
    }

    fn header_rules(&mut self, place: &Place, config: &HeaderRulesConfig) -> HeaderRules {
        let mut rules = HeaderRules::default();
        for (name, value) in &config.set {
            match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                (Ok(name), Ok(value)) => rules.set.push((name, value)),
                (Err(_), _) => self.errors.push(place.key("set"), format!("{name:?} is not a header name")),
                (_, Err(_)) => self.errors.push(place.key("set").key(name), "not a valid header value"),
            }
        }
        for (index, name) in config.remove.iter().enumerate() {
            let lowercase = name.to_ascii_lowercase();
            match lowercase.strip_suffix('*') {
                Some(prefix) if HeaderName::from_bytes(format!("{prefix}x").as_bytes()).is_ok() => {
                    rules.remove_prefixes.push(prefix.to_owned())
                }
                Some(_) => self
                    .errors
                    .push(place.key("remove").index(index), format!("{name:?} is not a header prefix")),
                None => match HeaderName::from_bytes(lowercase.as_bytes()) {
                    Ok(name) => rules.remove.push(name),
                    Err(_) => self
                        .errors
                        .push(place.key("remove").index(index), format!("{name:?} is not a header name")),
                },
            }
        }
        rules
    }
}
