//! Helpers shared by the integration tests.

pub mod raw_grpc;
