//! Why a transcoded call failed, as the error module renders it.

use std::time::Duration;

use super::{
    bind::{BindError, BindFailure},
    failure::UpstreamFailure,
    metadata::{InvalidTimeout, MetadataTooLarge},
    render::RenderError,
};
use crate::upstream::Unreachable;

/// Why a transcoded call failed.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// The request does not fit the method's input.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A body of a type the route does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A malformed `Grpc-Timeout` header.
    #[error(transparent)]
    Timeout(#[from] InvalidTimeout),
    /// The metadata to forward is over its limit.
    #[error(transparent)]
    MetadataTooLarge(#[from] MetadataTooLarge),
    /// The deadline passed before the backend replied.
    #[error("the backend did not reply within {0:?}")]
    DeadlineExceeded(Duration),
    /// The backend answered with an error status (or its connection broke).
    #[error("{}", .0.message)]
    Upstream(Box<UpstreamFailure>),
    /// No connection to the endpoint could be opened.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// A streaming method, which the gateway does not serve yet.
    #[error("{0} is a streaming method: streaming is not served yet")]
    StreamingNotServed(String),
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
            BindFailure::UnsupportedMediaType(message) => Self::UnsupportedMediaType(message),
            BindFailure::Internal(_) => Self::Internal(failure.to_string()),
        }
    }
}
