//! The integration tests: one binary, one module per behaviour. Every test
//! starts real servers (the tonic demo backend, the gateway) on 127.0.0.1:0.

mod balancing;
mod cli;
mod demo_backend;
mod errors;
mod hostile;
mod library;
mod metadata;
mod readme;
mod support;
mod transcoding;
