//! The integration tests: one binary, one module per area.

mod demo_backend;
mod support;
