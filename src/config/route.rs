//! `routes[i]`: a transcoded `grpc` service or an `http` pass-through
//! prefix, with the route's header rules and its transcoding and JSON
//! switches.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ByteSize, Duration, StreamConfig};

/// A route: exactly one of `grpc` (a transcoded service) or `http` (a
/// pass-through prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Every annotated method of a gRPC service becomes a route.
    pub grpc: Option<GrpcRouteConfig>,
    /// A path prefix proxied to an HTTP upstream.
    pub http: Option<HttpRouteConfig>,
    /// The deadline of calls on this route (default: `transcoding.timeout`).
    pub timeout: Option<Duration>,
    /// The most requests on this route at once, streams until they end
    /// (default `limits.max_in_flight`); one more gets 503 with `Retry-After`.
    pub max_in_flight: Option<usize>,
    /// JSON switches for this route, over the gateway's.
    #[serde(default)]
    pub json: JsonConfig,
    /// Named policies for this route, after `default_policies`.
    #[serde(default)]
    pub policies: Vec<String>,
}

/// A transcoded service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcRouteConfig {
    /// The service's full name, e.g. `demo.v1.Library`.
    pub service: String,
    /// The upstream that serves it.
    pub upstream: String,
    /// Only these methods (by name); default all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Also proxy native gRPC requests for the service (`content-type:
    /// application/grpc`) to the upstream as they are (default true).
    pub passthrough: Option<bool>,
    /// The success status of bindings, by method name (`CreateBook: 201`,
    /// every binding of the method) or by binding (`"POST /v1/shelves": 201`);
    /// default 200. A backend's `x-http-code` reply metadata wins.
    #[serde(default)]
    pub success_status: BTreeMap<String, u16>,
    /// How its server-streaming methods are served over REST.
    #[serde(default)]
    pub stream: StreamConfig,
}

/// A pass-through route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRouteConfig {
    /// The path prefix, matched on whole segments (`/legacy/`).
    pub prefix: String,
    /// The HTTP upstream it goes to.
    pub upstream: String,
    /// Only requests for this host.
    pub host: Option<String>,
    /// Only these methods (default any).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Remove the prefix from the forwarded path (default false).
    #[serde(default)]
    pub strip_prefix: bool,
    /// Replace the prefix with this path in the forwarded path.
    pub replace_prefix: Option<String>,
    /// Forward the client's `Host` instead of the endpoint's (default false).
    #[serde(default)]
    pub preserve_host: bool,
    /// Forward paths with encoded slashes (`%2F`), refused by default
    /// (default false).
    #[serde(default)]
    pub allow_encoded_slashes: bool,
    /// The largest request body forwarded (default `limits.max_body_bytes`).
    pub max_body_bytes: Option<ByteSize>,
    /// Headers set on or removed from the forwarded request.
    #[serde(default)]
    pub request_headers: HeaderRulesConfig,
    /// Headers set on or removed from the response.
    #[serde(default)]
    pub response_headers: HeaderRulesConfig,
}

/// Headers to set and to remove; a name in `remove` ending with `*`
/// removes every header that starts with what comes before it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRulesConfig {
    /// Header → value, replacing what was there.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Headers (or prefixes with `*`) to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Gateway-wide transcoding settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscodingConfig {
    /// JSON switches for every route.
    #[serde(default)]
    pub json: JsonConfig,
    /// Expose methods without a `google.api.http` annotation as
    /// `POST /<package>.<Service>/<Method>` with the whole message as the body.
    #[serde(default)]
    pub unannotated_methods: bool,
    /// Request headers forwarded as gRPC metadata, besides `Authorization`
    /// and `Grpc-Metadata-*`.
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// The most metadata forwarded with a call, all entries together (default 8KiB).
    pub max_metadata_bytes: Option<ByteSize>,
    /// The default deadline of a call (default 30s).
    pub timeout: Option<Duration>,
}

/// JSON switches; unset ones inherit (route ← gateway ← built-in default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonConfig {
    /// Output proto field names instead of lowerCamelCase (default false).
    pub use_proto_names: Option<bool>,
    /// Leave fields at their default value out of the output (default false).
    pub omit_defaults: Option<bool>,
    /// Output enums as numbers (default false).
    pub enums_as_numbers: Option<bool>,
    /// Refuse JSON body fields the message does not have (default false).
    pub reject_unknown_fields: Option<bool>,
    /// Refuse query parameters that name no field (default false).
    pub reject_unknown_query_parameters: Option<bool>,
    /// Read `+` in query values as `+`, not a space (default false).
    pub query_plus_is_literal: Option<bool>,
}

impl JsonConfig {
    /// These switches, with the unset ones taken from `fallback`.
    pub fn or(self, fallback: JsonConfig) -> JsonConfig {
        JsonConfig {
            use_proto_names: self.use_proto_names.or(fallback.use_proto_names),
            omit_defaults: self.omit_defaults.or(fallback.omit_defaults),
            enums_as_numbers: self.enums_as_numbers.or(fallback.enums_as_numbers),
            reject_unknown_fields: self.reject_unknown_fields.or(fallback.reject_unknown_fields),
            reject_unknown_query_parameters: self
                .reject_unknown_query_parameters
                .or(fallback.reject_unknown_query_parameters),
            query_plus_is_literal: self.query_plus_is_literal.or(fallback.query_plus_is_literal),
        }
    }
}
