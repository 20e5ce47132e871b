//! Named policies compiled once, and the chain of each route: the gateway's
//! `default_policies`, then the route's own, in the fixed order of
//! [`crate::policy`].

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use http::{HeaderName, Method};

use super::{CompileErrors, issues::unknown_name, settings::duration};
use crate::{
    config::{Config, CorsConfig, PolicyConfig},
    policy::{
        PolicyChain,
        cors::{CorsPolicy, CorsSettings, OriginPattern},
    },
};

const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// One compiled policy.
#[derive(Debug, Clone)]
enum Compiled {
    Cors(Arc<CorsPolicy>),
}

/// Every named policy, compiled.
pub(super) struct Policies {
    named: BTreeMap<String, Compiled>,
    defaults: Vec<String>,
}

impl Policies {
    /// Compiles every policy of the config.
    pub(super) fn compile(config: &Config, errors: &mut CompileErrors) -> Self {
        let mut named = BTreeMap::new();
        for (name, policy) in &config.policies {
            if let Some(compiled) = compile_one(&format!("policies.{name}"), policy, errors) {
                named.insert(name.clone(), compiled);
            }
        }
        let policies = Self { named, defaults: config.default_policies.clone() };
        for (index, name) in config.default_policies.iter().enumerate() {
            policies.check_name(&format!("default_policies[{index}]"), name, config, errors);
        }
        policies
    }

    /// The chain of a route that lists `names` (at `place`).
    pub(super) fn chain(
        &self,
        place: &str,
        names: &[String],
        config: &Config,
        errors: &mut CompileErrors,
    ) -> Arc<PolicyChain> {
        let mut cors = None;
        for (index, name) in names.iter().enumerate() {
            self.check_name(&format!("{place}.policies[{index}]"), name, config, errors);
        }
        let listed = self.defaults.iter().chain(names).filter_map(|name| Some((name, self.named.get(name)?)));
        for (name, policy) in listed {
            match policy {
                Compiled::Cors(policy) => {
                    if cors.replace(policy.clone()).is_some() {
                        errors.push(
                            format!("{place}.policies"),
                            format!("{name:?} is a second CORS policy; a route has at most one"),
                        );
                    }
                }
            }
        }
        Arc::new(PolicyChain::new(cors))
    }

    fn check_name(&self, place: &str, name: &str, config: &Config, errors: &mut CompileErrors) {
        if !config.policies.contains_key(name) {
            errors.push(place, unknown_name("policy", name, config.policies.keys().map(String::as_str)));
        }
    }
}

fn compile_one(place: &str, policy: &PolicyConfig, errors: &mut CompileErrors) -> Option<Compiled> {
    match policy {
        PolicyConfig { cors: Some(cors) } => {
            Some(Compiled::Cors(Arc::new(cors_policy(&format!("{place}.cors"), cors, errors))))
        }
        PolicyConfig { cors: None } => {
            errors.push(place, "a policy needs one kind: cors");
            None
        }
    }
}

fn cors_policy(place: &str, config: &CorsConfig, errors: &mut CompileErrors) -> CorsPolicy {
    let mut origins = Vec::new();
    for (index, origin) in config.allow_origins.iter().enumerate() {
        match OriginPattern::parse(origin) {
            Ok(pattern) => origins.push(pattern),
            Err(message) => errors.push(format!("{place}.allow_origins[{index}]"), message),
        }
    }
    if config.allow_origins.is_empty() {
        errors.push(format!("{place}.allow_origins"), "list at least one origin (or *)");
    }
    let methods = if config.allow_methods.is_empty() {
        vec![Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE]
    } else {
        let mut methods = Vec::new();
        for (index, method) in config.allow_methods.iter().enumerate() {
            match Method::from_bytes(method.as_bytes()) {
                Ok(method) => methods.push(method),
                Err(_) => errors
                    .push(format!("{place}.allow_methods[{index}]"), format!("{method:?} is not a method")),
            }
        }
        methods
    };
    let allow_any_header = config.allow_headers.iter().any(|h| h == "*");
    let allow_headers = if config.allow_headers.is_empty() {
        vec![HeaderName::from_static("authorization"), HeaderName::from_static("content-type")]
    } else {
        header_names(&format!("{place}.allow_headers"), &config.allow_headers, errors)
    };
    CorsPolicy::new(CorsSettings {
        origins,
        methods,
        allow_headers,
        allow_any_header,
        expose_headers: header_names(&format!("{place}.expose_headers"), &config.expose_headers, errors),
        credentials: config.allow_credentials,
        max_age: duration(config.max_age, DEFAULT_MAX_AGE, &format!("{place}.max_age"), errors),
    })
}

/// The header names of a list (`*`, handled by the caller, skipped).
fn header_names(place: &str, names: &[String], errors: &mut CompileErrors) -> Vec<HeaderName> {
    let mut headers = Vec::new();
    for (index, name) in names.iter().enumerate().filter(|(_, name)| *name != "*") {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) => headers.push(header),
            Err(_) => errors.push(format!("{place}[{index}]"), format!("{name:?} is not a header name")),
        }
    }
    headers
}
