//! `google.rpc.Status`, the message a gRPC server puts in the
//! `grpc-status-details-bin` trailer to carry rich error details.
//!
//! Written by hand (three fields) so the gateway can read details whatever
//! descriptor sets it was given; the demo backend uses it to send them.

/// The wire form of `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    /// The gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The developer-facing message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Details, each a `google.protobuf.Any`.
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<prost_types::Any>,
}
