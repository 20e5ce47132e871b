//! Why a transcoded call failed, as the error module renders it.

use std::time::Duration;

use super::{
    bind::{BindError, BindFailure},
    failure::UpstreamFailure,
    metadata::{InvalidTimeout, MetadataTooLarge},
    render::RenderError,
};

/// Why a transcoded call failed.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// The request does not fit the method's input.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A malformed `Grpc-Timeout` header.
    #[error(transparent)]
    Timeout(#[from] InvalidTimeout),
    /// The metadata to forward is over its limit.
    #[error(transparent)]
    MetadataTooLarge(#[from] MetadataTooLarge),
    /// The deadline passed before the backend replied.
    #[error("the backend did not reply within {0:?}")]
    DeadlineExceeded(Duration),
    /// The backend answered with an error status (or could not be reached).
    #[error("{}", .0.message)]
    Upstream(Box<UpstreamFailure>),
    /// The backend ended the call without a reply.
    #[error("the backend ended the call without a reply")]
    NoReply,
    /// The reply is larger than the upstream accepts.
    #[error(
        "the backend's reply is larger than the limit of {limit} bytes (max_response_bytes of upstream {upstream:?})"
    )]
    ReplyTooLarge {
        /// The upstream's name.
        upstream: String,
        /// Its `max_response_bytes`.
        limit: usize,
    },
    /// The reply could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The gateway's own binding does not fit the method's input (a bug).
    #[error("{0}")]
    Internal(String),
}

impl From<BindFailure> for TranscodeError {
    fn from(failure: BindFailure) -> Self {
        match failure {
            BindFailure::Invalid(error) => Self::Bind(error),
            BindFailure::Internal(_) => Self::Internal(failure.to_string()),
        }
    }
}
