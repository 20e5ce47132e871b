//! The config loader on any text: YAML → `Config` → compile against the
//! demo's embedded descriptors. Never a panic; a config that compiles renders
//! its route table, one that does not says why. Configs that would do I/O when compiled (read a file,
//! fetch a JWKS, resolve a host name) are parsed but not compiled: this
//! target fuzzes the loader, not the filesystem or the network.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use protogate::config::Config;
use protogate::schema::DescriptorSource;
use protogate::{compile, runtime};

fuzz_target!(|text: &str| {
    let Ok(config) = Config::from_yaml(text, "fuzz") else { return };
    if !compiles_offline(&config) {
        return;
    }
    let builtin =
        [DescriptorSource::Embedded { name: "demo".into(), bytes: protogate::proto::DEMO_DESCRIPTOR_SET }];
    // An empty directory: a relative path the check missed finds nothing.
    let base_dir = tempfile::tempdir().expect("a temporary directory");
    let compiled = protogate_fuzz::runtime().block_on(compile::compile(&config, base_dir.path(), &builtin));
    match compiled {
        Ok(compiled) => {
            let _table = runtime::routes_table(compiled.runtime.routes());
        }
        // Every error names its place.
        Err(errors) => assert!(!errors.to_string().is_empty()),
    }
});

/// Whether compiling `config` reads nothing but the embedded descriptors:
/// no descriptor sources, key or certificate files, JWKS URLs, or
/// endpoints named by host name.
fn compiles_offline(config: &Config) -> bool {
    let policies_offline = config.policies.values().all(|policy| {
        let jwt_offline = policy.jwt.as_ref().is_none_or(|jwt| {
            jwt.public_key_file.is_none()
                && jwt.secret_file.is_none()
                && jwt.jwks.as_ref().is_none_or(|jwks| jwks.url.is_none() && jwks.file.is_none())
        });
        let redis_offline = policy
            .rate_limit
            .as_ref()
            .and_then(|limit| limit.redis.as_ref())
            .is_none_or(|redis| redis.password_file.is_none());
        jwt_offline && redis_offline
    });
    let upstreams_offline = config.upstreams.values().all(|upstream| {
        let tls_offline = upstream
            .tls
            .as_ref()
            .is_none_or(|tls| tls.ca_file.is_none() && tls.cert_file.is_none() && tls.key_file.is_none());
        tls_offline && upstream.endpoints.iter().all(|endpoint| names_an_address(endpoint))
    });
    config.descriptors.is_empty() && policies_offline && upstreams_offline
}

/// Whether an endpoint URI's host is an IP literal (or the URI is invalid,
/// which compile refuses without resolving anything).
fn names_an_address(endpoint: &str) -> bool {
    match endpoint.parse::<http::Uri>() {
        Ok(uri) => uri.host().is_none_or(|host| host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()),
        Err(_) => true,
    }
}
