//! Helpers shared by the integration tests: real servers on ephemeral ports.

pub mod gateway;
pub mod http_backends;
pub mod lcg;
pub mod raw_grpc;
pub mod raw_http;
pub mod redis;
