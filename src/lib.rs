//! protogate: a REST-to-gRPC API gateway that loads protobuf descriptors at
//! run time and turns every `google.api.http` annotation into a REST route.
//!
//! # Layout
//!
//! The rooms in the order a request meets them:
//!
//! - [`server`]: listeners (cleartext or TLS, [`server::tls`]; at most `limits.max_connections` each), HTTP/1.1
//!   and HTTP/2, limits on the request head, graceful shutdown; hands each
//!   request to the gateway. Its settings ([`server::ListenerSettings`])
//!   apply when it starts, apart from the runtime.
//! - [`gateway`]: one request against the current [`runtime::Runtime`]:
//!   its context, the router's decision, body limit, the target, the error
//!   response.
//! - [`observe`]: the per-request context (connection, arrival, request id,
//!   trace slot, route id, the record of its phases) and the observer that
//!   sees each request's named phases; Prometheus metrics
//!   ([`observe::metrics`]), the access log ([`observe::access_log`]) and,
//!   with the `otlp` feature, span export hang off it; the request's W3C
//!   trace context ([`observe::TraceContext`]).
//! - [`router`]: the one dispatcher ([`router::decide`]: the host, the
//!   normalised path and the dispatch order) over the route tables: a
//!   segment trie of transcoded bindings, pass-through prefixes, and native
//!   gRPC services.
//! - [`policy`]: what a route asks of a request first: CORS,
//!   [`policy::auth`] (JWT, API keys, mTLS), [`policy::rate_limit`].
//! - [`transcode`]: request binding, the dynamic gRPC call, response
//!   rendering (straight between JSON and the protobuf wire where it
//!   can); server streams framed as NDJSON, SSE, a JSON array or raw
//!   bytes, client and bidirectional streams over HTTP and WebSocket
//!   ([`transcode::stream`]).
//! - [`proxy`]: HTTP and native gRPC pass-through, bodies streamed both ways;
//!   gRPC-Web translated to native gRPC ([`proxy::grpc_web`]).
//! - [`upstream`]: endpoints and their channels; which endpoint gets a
//!   call (balancing, outlier ejection, circuit breaker); the one retry
//!   loop both targets call through.
//! - [`error`]: the one place where a refusal becomes an HTTP response.
//! - [`admin`]: the admin listener (liveness, readiness, routes, upstreams,
//!   the running config, reload, metrics, the page for people), behind a
//!   bearer token when one is configured.
//!
//! Built once, before any request:
//!
//! - [`config`]: the YAML schema (plain serde structs).
//! - [`schema`]: descriptor sources (files, `.proto` sources, an
//!   upstream's gRPC server reflection) merged into one pool.
//! - [`http_rule`]: the path-template grammar and a method's bindings.
//! - [`openapi`]: the OpenAPI 3.1 document of the compiled routes.
//! - [`explain`]: which route a request would meet and why, calling nothing.
//! - [`compile`]: `Config` → [`runtime::Runtime`] and the listeners'
//!   settings, collecting every error with its [`compile::Place`].
//! - [`runtime`]: the immutable runtime requests read (route tables,
//!   body limits, upstreams), swapped whole, and its
//!   [`runtime::StateStore`] of what outlives a reload.
//! - [`reload`]: the [`reload::Reloader`]: a new runtime compiled beside the
//!   running one and swapped in (file watcher, SIGHUP, `POST /reload`, the
//!   refresh of reflection sources),
//!   generations, refused reloads.
//!
//! And beside them: [`demo`] (the built-in demo backend), [`proto`] (code
//! generated from proto/), [`rpc_status`], [`body`], [`forwarded`]
//! (`X-Forwarded-For`, for both targets), [`suggest`]
//! (closest-name suggestions for error messages) and [`tls_info`] (what a
//! request's TLS session established, for the rooms that read it).

pub mod admin;
pub mod body;
pub mod compile;
pub mod config;
pub mod demo;
pub mod error;
pub mod explain;
pub mod forwarded;
pub mod gateway;
pub mod http_rule;
pub mod observe;
pub mod openapi;
pub mod policy;
pub mod proto;
pub mod proxy;
pub mod reload;
pub mod router;
pub mod rpc_status;
pub mod runtime;
pub mod schema;
pub mod server;
pub mod suggest;
mod task;
pub mod tls_info;
pub mod transcode;
pub mod upstream;
