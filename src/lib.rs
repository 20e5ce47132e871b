//! protogate: a REST-to-gRPC API gateway that loads protobuf descriptors at
//! run time.
//!
//! # Layout
//!
//! The rooms in the order a request meets them:
//!
//! - [`http_rule`]: the `google.api.http` grammar and the bindings of a method.
//! - [`router`]: the one routing table (a segment trie).
//! - [`transcode`]: request binding, the dynamic call, response rendering.

pub mod demo;
pub mod http_rule;
pub mod proto;
pub mod router;
pub mod rpc_status;
pub mod transcode;
