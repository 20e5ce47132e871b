//! The `google.rpc.Status` wire type carried, encoded, in the
//! `grpc-status-details-bin` trailer of a failed gRPC call.
//!
//! It is not generated from a .proto: three fields make a small hand-written
//! prost message. The demo backend encodes it to attach error details; the
//! gateway decodes it to render those details.

/// `google.rpc.Status`: a status code, a developer-facing message, and
/// detail messages packed as `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    /// The numeric gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The error message, in English.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Typed error details, e.g. `type.googleapis.com/demo.v1.FieldViolation`.
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<prost_types::Any>,
}
