//! The integration tests: one binary, one module per behaviour. Every test
//! starts real servers (the tonic demo backend, the gateway) on 127.0.0.1:0.

mod admin;
mod api_key;
mod balancing;
mod cli;
mod demo_backend;
mod dispatch;
mod dns;
mod errors;
mod grpc_methods;
mod health;
mod hostile;
mod jwks;
mod jwt;
mod jwt_config;
mod killed_endpoint;
mod library;
mod listener;
mod logs;
mod metadata;
mod pipeline;
mod policies;
mod properties;
mod proxy;
mod proxy_retry;
mod rate_limit;
mod readme;
mod retry;
mod shutdown;
mod support;
mod transcoding;
mod upstream_wire;
