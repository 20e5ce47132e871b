//! The YAML configuration: plain serde structs with no behaviour.
//!
//! Parsing checks shapes and units (an unknown key is an error, so a typo
//! never silently does nothing); everything that needs more than one
//! place of the file (does this upstream exist? does this service?) is
//! checked when the config is compiled into a runtime, where every error is
//! collected with its place. See docs/configuration.md for the reference.
//!
//! This room reads files; it starts nothing.

mod auth;
mod error;
mod listener;
mod observe;
mod rate_limit;
mod redact;
mod resilience;
mod route;
mod stream;
mod transport;
mod units;

use std::{collections::BTreeMap, path::PathBuf};

use serde::Deserialize;

pub use auth::{
    ApiKeyConfig, ApiKeyEntryConfig, JwksConfig, JwtConfig, MtlsConfig, MtlsConsumerConfig, TokenCacheConfig,
};
pub use error::ConfigError;
use error::parse_error;
pub use listener::{CertificateConfig, ClientAuthConfig, ClientAuthMode, ListenerConfig, ServerTlsConfig};
pub use observe::{AccessLogConfig, OtlpConfig, TracingConfig};
pub use rate_limit::{FallbackConfig, RateLimitConfig, RateLimitStoreConfig, RedisConfig};
pub use redact::{REDACTED, redacted};
pub use resilience::{BalancingConfig, BreakerConfig, OutlierConfig, RetryConfig};
pub use route::{
    GrpcRouteConfig, HeaderRulesConfig, HttpRouteConfig, JsonConfig, RouteConfig, TranscodingConfig,
};
pub use stream::{SseCounter, SseIdConfig, StreamConfig, StreamFramingConfig};
pub use transport::{CompressionConfig, TlsConfig};
pub use units::{ByteSize, Duration, Ratio};

/// The whole gateway configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The address of the gateway's one cleartext listener (default
    /// 127.0.0.1:8080 when `listeners` is not set either).
    pub listen: Option<String>,
    /// Several listeners, each cleartext or TLS; instead of `listen`.
    #[serde(default)]
    pub listeners: Vec<ListenerConfig>,
    /// Descriptor sources, merged into one pool.
    #[serde(default)]
    pub descriptors: Vec<DescriptorConfig>,
    /// Upstreams by name.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// The routes.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Gateway-wide transcoding defaults.
    #[serde(default)]
    pub transcoding: TranscodingConfig,
    /// Limits on what a client may send.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The admin listener (health, readiness, routes, upstream state).
    pub admin: Option<AdminConfig>,
    /// Named policies that routes list.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Policies every route gets, before its own.
    #[serde(default)]
    pub default_policies: Vec<String>,
    /// How the gateway stops on SIGTERM or SIGINT.
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    /// The access log: one JSON line per request (on by default).
    #[serde(default)]
    pub access_log: AccessLogConfig,
    /// Span export (OTLP, with the `otlp` feature).
    #[serde(default)]
    pub tracing: TracingConfig,
    /// The OpenAPI document of the routes.
    #[serde(default)]
    pub openapi: OpenApiConfig,
    /// What a reload may do.
    #[serde(default)]
    pub reload: ReloadConfig,
}

/// What a reload may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadConfig {
    /// Refuse a reload that removes or changes routes, or removes or
    /// retypes fields of their messages (default false: logged only).
    #[serde(default)]
    pub refuse_breaking: bool,
}

/// Where the OpenAPI document is served.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenApiConfig {
    /// The listener that answers `GET /openapi.json` (default admin).
    #[serde(default)]
    pub serve_on: OpenApiListener,
}

/// The listener that serves the OpenAPI document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenApiListener {
    /// The admin listener (when there is one).
    #[default]
    Admin,
    /// The main listeners too (a route of the config at that path wins).
    Main,
    /// Neither (`protogate openapi` still prints it).
    None,
}

/// The graceful stop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long the listeners keep accepting after the signal, while
    /// `/readyz` answers 503 (default 0s).
    pub delay: Option<Duration>,
    /// How long open requests and streams get to finish once the
    /// listeners stop; what is left is closed (default 30s).
    pub drain: Option<Duration>,
}

/// One named policy: exactly one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Which browser origins may call the route.
    pub cors: Option<CorsConfig>,
    /// A bearer JWT proves who calls.
    pub jwt: Option<JwtConfig>,
    /// An API key proves which consumer calls.
    pub api_key: Option<ApiKeyConfig>,
    /// A rate limit.
    pub rate_limit: Option<RateLimitConfig>,
    /// A verified client certificate (mTLS) proves which consumer calls.
    pub mtls: Option<MtlsConfig>,
}

/// A CORS policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins: exact (`https://app.example.com`), subdomains
    /// (`https://*.example.com`), or `*`.
    pub allow_origins: Vec<String>,
    /// Allowed methods (default GET, HEAD, POST, PUT, PATCH, DELETE).
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Allowed request headers (default authorization, content-type); `*`
    /// allows whatever a preflight asks for.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers pages may read, besides the rate-limit and gRPC status headers
    /// (CORS has no wildcard: list `grpc-metadata-*` names one by one).
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Allow cookies and credentials (default false).
    #[serde(default)]
    pub allow_credentials: bool,
    /// How long a browser may cache a preflight answer (default 10m).
    pub max_age: Option<Duration>,
}

/// The admin listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Its address; keep it off the public network (e.g. 127.0.0.1:9901).
    /// An address that is not loopback needs `token_file` or `allow_public`.
    pub listen: String,
    /// A file holding the bearer token every admin request must carry
    /// (`Authorization: Bearer <token>`); surrounding whitespace is ignored.
    pub token_file: Option<PathBuf>,
    /// Serve on a non-loopback address without a token (default false).
    #[serde(default)]
    pub allow_public: bool,
    /// Collect Prometheus metrics and serve them at `/metrics` (default true).
    pub metrics: Option<bool>,
}

/// One descriptor source: exactly one of `file`, `proto` or `reflection`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptorConfig {
    /// An encoded FileDescriptorSet (`protoc --include_imports -o`, `buf build -o`).
    pub file: Option<PathBuf>,
    /// A directory of .proto sources, also the import root.
    pub proto: Option<PathBuf>,
    /// With `proto`: the files to compile, relative to it (default: all).
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// The descriptors an upstream's gRPC server reflection gives.
    pub reflection: Option<ReflectionConfig>,
}

/// Descriptors from an upstream's gRPC server reflection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReflectionConfig {
    /// The gRPC upstream asked.
    pub upstream: String,
    /// How often the upstream is asked again; a change reloads (default 5m).
    pub refresh: Option<Duration>,
}

/// An upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// What it speaks (default grpc).
    #[serde(default)]
    pub protocol: ProtocolConfig,
    /// Endpoint URIs, `http://host:port` or `https://host:port`; a host
    /// name stands for every address it resolves to.
    pub endpoints: Vec<String>,
    /// How often host names among the endpoints are resolved again (default 30s).
    pub dns_refresh: Option<Duration>,
    /// HTTP upstreams: speak HTTP/2 only (prior knowledge over cleartext);
    /// default false (HTTP/1.1, or HTTP/2 when TLS's ALPN agrees).
    #[serde(default)]
    pub http2: bool,
    /// TLS for the `https://` endpoints (default: the system's roots).
    pub tls: Option<TlsConfig>,
    /// The time allowed to open a connection (default 1s).
    pub connect_timeout: Option<Duration>,
    /// The deadline of calls to it, for routes that set none (default:
    /// `transcoding.timeout`).
    pub timeout: Option<Duration>,
    /// The largest reply message accepted (default 4MiB).
    pub max_response_bytes: Option<ByteSize>,
    /// The largest request message sent, as protobuf (default 4MiB).
    pub max_request_bytes: Option<ByteSize>,
    /// How calls spread over the endpoints (default round_robin).
    #[serde(default)]
    pub balancing: BalancingConfig,
    /// Passive outlier ejection.
    #[serde(default)]
    pub outlier: OutlierConfig,
    /// The circuit breaker.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// The gRPC codes, by name, that count as failures (default UNAVAILABLE,
    /// DEADLINE_EXCEEDED, INTERNAL, UNKNOWN).
    pub failure_codes: Option<Vec<String>>,
    /// Active health checks of each endpoint (default: none).
    pub health_check: Option<HealthCheckConfig>,
    /// Retries of failed calls (default: none).
    #[serde(default)]
    pub retry: RetryConfig,
    /// gRPC: gzip both ways, requests sent and replies offered (default none).
    #[serde(default)]
    pub compression: CompressionConfig,
}

/// Active health checks of an upstream's endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// The time between two checks of an endpoint (default 5s).
    pub interval: Option<Duration>,
    /// The time a check may take before it counts as failed (default 1s).
    pub timeout: Option<Duration>,
    /// Consecutive passes that make an unhealthy endpoint healthy (default 2).
    pub healthy_threshold: Option<u32>,
    /// Consecutive failures that make a healthy endpoint unhealthy (default 2).
    pub unhealthy_threshold: Option<u32>,
    /// gRPC: the service name asked of `grpc.health.v1.Health` (default
    /// "", the server as a whole).
    pub service: Option<String>,
    /// gRPC: follow `Health/Watch` instead of polling `Health/Check`
    /// (default false).
    pub watch: Option<bool>,
    /// HTTP: the path of the GET whose 2xx is a pass (required for HTTP
    /// upstreams).
    pub path: Option<String>,
}

/// What an upstream speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolConfig {
    /// gRPC (HTTP/2; cleartext, or TLS for `https://` endpoints).
    #[default]
    Grpc,
    /// Plain HTTP, for pass-through routes.
    Http,
}

/// Limits on what a client may send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The most connections each listener holds open at once (default
    /// 10000); past it, a new connection is closed as soon as accepted.
    pub max_connections: Option<usize>,
    /// The most requests one route serves at once, for routes that set no
    /// `max_in_flight` (default 1024).
    pub max_in_flight: Option<usize>,
    /// The largest request body (default 4MiB).
    pub max_body_bytes: Option<ByteSize>,
    /// The largest request head, all headers together (default 64KiB).
    pub max_header_bytes: Option<ByteSize>,
    /// The time a client has to send the request head, HTTP/1 (default 10s).
    pub header_read_timeout: Option<Duration>,
    /// The time a client has to send the request body (default 30s).
    pub body_read_timeout: Option<Duration>,
    /// The most requests one HTTP/2 connection may have open at once (default 100).
    pub max_concurrent_streams: Option<u32>,
    /// The deepest nesting of a JSON body, objects and arrays (default 64, at most 128).
    pub max_json_depth: Option<usize>,
    /// The most query parameters of a transcoded request (default 256).
    pub max_query_params: Option<usize>,
    /// The longest query parameter name or value, as sent (default 8KiB).
    pub max_query_value_bytes: Option<ByteSize>,
    /// The most streams (server, client, bidirectional, WebSocket) one
    /// client connection may have open at once (default no limit).
    pub max_streams_per_connection: Option<usize>,
    /// The most header lines in a request head (default 100).
    pub max_headers: Option<usize>,
    /// What becomes of request headers whose names hold `_` (default drop).
    pub headers_with_underscores: Option<UnderscoreHeaders>,
}

/// Request headers whose names hold underscores: some frameworks read them
/// as the dashed name (`x_user` as `x-user`), so they can smuggle a header
/// past rules written for the dashed one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnderscoreHeaders {
    /// Removed before the request goes further (nginx's default).
    #[default]
    Drop,
    /// The request is refused with 400.
    Refuse,
    /// Kept.
    Allow,
}

impl Config {
    /// Parses YAML; `origin` names the source in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        serde_saphyr::from_str(text).map_err(|error| parse_error(&error, origin))
    }

    /// Reads and parses a YAML file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::from_yaml(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_config_parses_with_defaults() {
        let config = Config::from_yaml("routes: []", "t").unwrap();
        assert_eq!(config.listen, None);
        assert!(config.listeners.is_empty());
        assert!(config.routes.is_empty());
    }

    #[test]
    fn unknown_keys_are_errors_that_say_where() {
        let error = Config::from_yaml("listen: 127.0.0.1:1\nupstream: {}\n", "gw.yaml").unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("gw.yaml:2:1: unknown field `upstream`"), "{text}");
        assert!(!text.contains("<input>") && !text.contains("line 2 column 1"), "{text}");
        assert!(text.contains("upstream"), "{text}");
    }

    #[test]
    fn json_switches_inherit_field_by_field() {
        let route = JsonConfig { omit_defaults: Some(true), ..Default::default() };
        let gateway =
            JsonConfig { omit_defaults: Some(false), use_proto_names: Some(true), ..Default::default() };
        let merged = route.or(gateway);
        assert_eq!(merged.omit_defaults, Some(true));
        assert_eq!(merged.use_proto_names, Some(true));
        assert_eq!(merged.enums_as_numbers, None);
    }
}
