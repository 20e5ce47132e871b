//! Helpers shared by the integration tests: real servers on ephemeral ports.

pub mod binary;
pub mod gateway;
pub mod http_backends;
pub mod raw_grpc;
pub mod redis;
