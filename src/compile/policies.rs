//! Named policies compiled once, and the chain of each route: the gateway's
//! `default_policies`, then the route's own, sorted into the fixed order of
//! [`crate::policy`]. A rate limit or JWT policy whose name and settings
//! are those of the runtime being replaced is kept (its buckets, Redis
//! connection, JWKS and verified tokens with it).

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use http::{HeaderName, Method};

use super::{
    CompileErrors, Place, api_key_settings, issues::unknown_name, jwt_settings, mtls_auth::mtls_settings,
    rate_limit_settings, settings::duration,
};
use crate::{
    config::{Config, CorsConfig, PolicyConfig},
    policy::{
        Authenticator, InFlightLimit, Named, PolicyChain,
        auth::{ApiKeyPolicy, JwtPolicy, MtlsPolicy},
        cors::{CorsPolicy, CorsSettings, OriginPattern},
        rate_limit::{LimitKey, RateLimitPolicy},
    },
    runtime::{Shelf, StateStore},
};

const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// `policy`, named `name` for what it reports.
fn named<T: Clone>(name: &str, policy: &T) -> Named<T> {
    Named { name: Arc::from(name), policy: policy.clone() }
}

/// One compiled policy.
#[derive(Debug, Clone)]
enum Compiled {
    Cors(Arc<CorsPolicy>),
    Authenticator(Authenticator),
    /// A rate limit, and whether its key needs the caller authenticated.
    RateLimit(Arc<RateLimitPolicy>, bool),
}

/// Every named policy, compiled.
pub(super) struct Policies {
    named: BTreeMap<String, Compiled>,
    defaults: Vec<String>,
}

impl Policies {
    /// Compiles every policy of the config (JWKS URLs are fetched, Redis is
    /// connected: a failure there is logged and retried, not fatal), keeping
    /// those `kept` has with equal settings; the stateful ones go into `next`.
    pub(super) async fn compile(
        config: &Config,
        base_dir: &Path,
        kept: Option<&StateStore>,
        next: &mut StateStore,
        errors: &mut CompileErrors,
    ) -> Self {
        let mut named = BTreeMap::new();
        for (name, policy) in &config.policies {
            if let Some(compiled) = compile_one(name, policy, base_dir, (kept, &mut *next), errors).await {
                named.insert(name.clone(), compiled);
            }
        }
        let policies = Self { named, defaults: config.default_policies.clone() };
        for (index, name) in config.default_policies.iter().enumerate() {
            policies.check_name(&Place::root().key("default_policies").index(index), name, config, errors);
        }
        policies
    }

    /// The chain of a route that lists `names` (at `place`), with at most
    /// `max_in_flight` requests at once.
    pub(super) fn chain(
        &self,
        place: &Place,
        names: &[String],
        max_in_flight: usize,
        config: &Config,
        errors: &mut CompileErrors,
    ) -> Arc<PolicyChain> {
        for (index, name) in names.iter().enumerate() {
            self.check_name(&place.key("policies").index(index), name, config, errors);
        }
        let mut chain = PolicyChain {
            route: Arc::from(place.as_str()),
            in_flight: Some(Arc::new(InFlightLimit::new(max_in_flight))),
            ..PolicyChain::default()
        };
        let listed = self.defaults.iter().chain(names).filter_map(|name| Some((name, self.named.get(name)?)));
        for (name, policy) in listed {
            chain.names.push(name.clone());
            match policy {
                Compiled::Cors(policy) => {
                    if chain.cors.replace(policy.clone()).is_some() {
                        let message = format!("{name:?} is a second CORS policy; a route has at most one");
                        errors.push(place.key("policies"), message);
                    }
                }
                Compiled::Authenticator(authenticator) => {
                    chain.authenticators.push(named(name, authenticator))
                }
                Compiled::RateLimit(limit, false) => chain.request_limits.push(named(name, limit)),
                Compiled::RateLimit(limit, true) => chain.principal_limits.push(named(name, limit)),
            }
        }
        if !chain.principal_limits.is_empty() && chain.authenticators.is_empty() {
            let message = "a rate limit keyed on the consumer or a claim needs an authentication policy \
                           (jwt, api_key or mtls) on the route";
            errors.push(place.key("policies"), message);
        }
        Arc::new(chain)
    }

    fn check_name(&self, place: &Place, name: &str, config: &Config, errors: &mut CompileErrors) {
        if !config.policies.contains_key(name) {
            errors.push(place, unknown_name("policy", name, config.policies.keys().map(String::as_str)));
        }
    }
}

async fn compile_one(
    name: &str,
    policy: &PolicyConfig,
    base_dir: &Path,
    (kept, next): (Option<&StateStore>, &mut StateStore),
    errors: &mut CompileErrors,
) -> Option<Compiled> {
    let place = Place::root().key("policies").key(name);
    match policy {
        PolicyConfig { cors: Some(cors), jwt: None, api_key: None, rate_limit: None, mtls: None } => {
            Some(Compiled::Cors(Arc::new(cors_policy(&place.key("cors"), cors, errors))))
        }
        PolicyConfig { jwt: Some(jwt), cors: None, api_key: None, rate_limit: None, mtls: None } => {
            let place = place.key("jwt");
            let settings = jwt_settings(jwt, base_dir, &place, errors)?;
            let kept = kept.map(|kept| &kept.jwt);
            match keep_or_build(name, settings, kept, &mut next.jwt, JwtPolicy::new).await {
                Ok(policy) => Some(Compiled::Authenticator(Authenticator::Jwt(policy))),
                Err(error) => fail(errors, place, error),
            }
        }
        PolicyConfig { api_key: Some(api_key), cors: None, jwt: None, rate_limit: None, mtls: None } => {
            let place = place.key("api_key");
            let settings = api_key_settings(api_key, &place, errors)?;
            match ApiKeyPolicy::new(settings) {
                Ok(policy) => Some(Compiled::Authenticator(Authenticator::ApiKey(Arc::new(policy)))),
                Err(error) => fail(errors, place, error),
            }
        }
        PolicyConfig { rate_limit: Some(limit), cors: None, jwt: None, api_key: None, mtls: None } => {
            let place = place.key("rate_limit");
            let settings = rate_limit_settings(limit, name, &place, base_dir, errors)?;
            let needs_principal = matches!(settings.key, LimitKey::Consumer | LimitKey::Claim(_));
            let kept = kept.map(|kept| &kept.rate_limits);
            match keep_or_build(name, settings, kept, &mut next.rate_limits, RateLimitPolicy::new).await {
                Ok(policy) => Some(Compiled::RateLimit(policy, needs_principal)),
                Err(error) => fail(errors, place, error),
            }
        }
        PolicyConfig { mtls: Some(mtls), cors: None, jwt: None, api_key: None, rate_limit: None } => {
            let place = place.key("mtls");
            match MtlsPolicy::new(mtls_settings(mtls, &place, errors)?) {
                Ok(policy) => Some(Compiled::Authenticator(Authenticator::Mtls(Arc::new(policy)))),
                Err(error) => fail(errors, place, error),
            }
        }
        _ => fail(errors, place, "a policy has exactly one kind: cors, jwt, api_key, mtls or rate_limit"),
    }
}

/// The policy `kept` has under `name` with equal settings, else one
/// built; either way put in `next`.
async fn keep_or_build<S, T, E, F>(
    name: &str,
    settings: S,
    kept: Option<&Shelf<S, Arc<T>>>,
    next: &mut Shelf<S, Arc<T>>,
    build: impl FnOnce(S) -> F,
) -> Result<Arc<T>, E>
where
    S: Clone + PartialEq,
    F: Future<Output = Result<T, E>>,
{
    let policy = match kept.and_then(|kept| kept.get(name, &settings)) {
        Some(policy) => {
            tracing::debug!(policy = %name, "unchanged: its state is kept");
            policy
        }
        None => Arc::new(build(settings.clone()).await?),
    };
    next.put(name, settings, policy.clone());
    Ok(policy)
}

fn fail(errors: &mut CompileErrors, place: Place, message: impl std::fmt::Display) -> Option<Compiled> {
    errors.push(place, message);
    None
}

fn cors_policy(place: &Place, config: &CorsConfig, errors: &mut CompileErrors) -> CorsPolicy {
    let mut origins = Vec::new();
    for (index, origin) in config.allow_origins.iter().enumerate() {
        match OriginPattern::parse(origin) {
            Ok(pattern) => origins.push(pattern),
            Err(message) => errors.push(place.key("allow_origins").index(index), message),
        }
    }
    if config.allow_origins.is_empty() {
        errors.push(place.key("allow_origins"), "list at least one origin (or *)");
    }
    let methods = if config.allow_methods.is_empty() {
        vec![Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE]
    } else {
        let mut methods = Vec::new();
        for (index, method) in config.allow_methods.iter().enumerate() {
            match Method::from_bytes(method.as_bytes()) {
                Ok(method) => methods.push(method),
                Err(_) => errors
                    .push(place.key("allow_methods").index(index), format!("{method:?} is not a method")),
            }
        }
        methods
    };
    let allow_any_header = config.allow_headers.iter().any(|h| h == "*");
    let allow_headers = if config.allow_headers.is_empty() {
        vec![HeaderName::from_static("authorization"), HeaderName::from_static("content-type")]
    } else {
        header_names(&place.key("allow_headers"), &config.allow_headers, errors)
    };
    CorsPolicy::new(CorsSettings {
        origins,
        methods,
        allow_headers,
        allow_any_header,
        expose_headers: header_names(&place.key("expose_headers"), &config.expose_headers, errors),
        credentials: config.allow_credentials,
        max_age: duration(config.max_age, DEFAULT_MAX_AGE, &place.key("max_age"), errors),
    })
}

/// The header names of a list (`*`, handled by the caller, skipped).
fn header_names(place: &Place, names: &[String], errors: &mut CompileErrors) -> Vec<HeaderName> {
    let mut headers = Vec::new();
    for (index, name) in names.iter().enumerate().filter(|(_, name)| *name != "*") {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) => headers.push(header),
            Err(_) => errors.push(place.index(index), format!("{name:?} is not a header name")),
        }
    }
    headers
}
