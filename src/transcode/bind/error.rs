//! What binding can fail with: [`PlanError`] when a binding is compiled,
//! [`BindFailure`] per request, which keeps apart the client's mistakes
//! ([`BindError`], a 400) from the gateway's own inconsistencies (a 500:
//! a compiled binding that does not fit the message it builds).

/// A binding that cannot be compiled against its input message (a load-time error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// Request input that does not fit the message: a 400 INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BindError {
    /// The human-readable message, naming the field and the value.
    pub message: String,
}

/// Why a request could not be bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindFailure {
    /// The client's input does not fit the message (a 400).
    #[error(transparent)]
    Invalid(#[from] BindError),
    /// A body of a type the binding does not read (a 415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The gateway's own binding is inconsistent with the message it
    /// builds (a bug, or descriptors that changed under it: a 500).
    #[error("inconsistent request binding: {0}")]
    Internal(String),
}

impl BindError {
    /// A 400 with this message.
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// A [`BindFailure::Internal`] from any error.
pub(super) fn internal(error: impl std::fmt::Display) -> BindFailure {
    BindFailure::Internal(error.to_string())
}
