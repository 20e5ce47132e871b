//! Why a transcoded call failed, as the error module renders it.

use std::time::Duration;

use super::{
    bind::{BindError, BindFailure},
    failure::UpstreamFailure,
    metadata::{InvalidTimeout, MetadataTooLarge},
    render::RenderError,
};
use crate::upstream::{TryStatus, Unreachable};

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
    /// A request stream that cannot be read or cut into messages.
    #[error("{0}")]
    BadStream(String),
    /// A request message over `grpc.stream.max_message_bytes`, or a stream
    /// past `grpc.stream.max_messages`.
    #[error("{0}")]
    StreamTooLarge(String),
    /// Too many streams open on the route or the connection.
    #[error("{0}")]
    TooManyStreams(String),
    /// A stream's own time limit passed (`idle_timeout`, `max_duration`).
    #[error("{0}")]
    StreamTimeout(String),
    /// The backend ended the call without a reply.
    #[error("the backend ended the call without a reply")]
    NoReply,
    /// A request message, as protobuf, is larger than the upstream takes.
    #[error(
        "{which} is {size} bytes as protobuf, larger than the limit of {limit} bytes (max_request_bytes of upstream {upstream:?})"
    )]
    RequestTooLarge {
        /// `the request message`, or `request message <index>` of a stream.
        which: String,
        /// Its encoded length.
        size: usize,
        /// The upstream's `max_request_bytes`.
        limit: usize,
        /// The upstream's name.
        upstream: String,
    },
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

impl TranscodeError {
    /// The gRPC code of the failure, as a stream's error frame tells it.
    pub fn code(&self) -> tonic::Code {
        use tonic::Code;
        match self {
            Self::Bind(_) | Self::UnsupportedMediaType(_) | Self::Timeout(_) | Self::BadStream(_) => {
                Code::InvalidArgument
            }
            Self::MetadataTooLarge(_)
            | Self::StreamTooLarge(_)
            | Self::TooManyStreams(_)
            | Self::RequestTooLarge { .. }
            | Self::ReplyTooLarge { .. } => Code::ResourceExhausted,
            Self::DeadlineExceeded(_) | Self::StreamTimeout(_) => Code::DeadlineExceeded,
            Self::Upstream(failure) => failure.code,
            Self::Unreachable(_) => Code::Unavailable,
            Self::NoReply | Self::Render(_) | Self::Internal(_) => Code::Internal,
        }
    }
}

/// A failed try ends with the code the call fails with: the backend's
/// status, or the gateway's own (DEADLINE_EXCEEDED past the deadline).
impl TryStatus for TranscodeError {
    fn try_status(&self) -> Option<tonic::Code> {
        Some(self.code())
    }
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
