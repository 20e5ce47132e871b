//! Helpers shared by the integration tests: real servers on ephemeral ports.

pub mod binary;
pub mod captured_log;
pub mod chromium;
pub mod closed_port;
pub mod counting_proxy;
pub mod gateway;
pub mod h2_frames;
pub mod held_backend;
pub mod http_backends;
pub mod lcg;
pub mod poll;
pub mod process;
pub mod raw_grpc;
pub mod raw_h2;
pub mod raw_http;
pub mod redis;
pub mod tls;
pub mod tool;
