//! The one place where a refusal becomes an HTTP response.
//!
//! Every error, the gateway's own (no route, bad input, too large) or a
//! backend's, is rendered in one JSON shape,
//! `{"code": <grpc code>, "message": "...", "details": [...]}`, with an HTTP
//! status and a gRPC code carried separately: a backend's code maps to HTTP
//! by [`http_status_of`]; the gateway's own refusals choose both.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde_json::Value;
use tonic::Code;

use crate::{
    body::{ResponseBody, full},
    policy::auth::{AuthError, Scheme},
    policy::rate_limit::Decision,
    proxy::ProxyError,
    router::RouteError,
    transcode::target::TranscodeError,
};

/// A refusal, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    status: StatusCode,
    code: Code,
    message: String,
    details: Vec<Value>,
    headers: HeaderMap,
}

impl GatewayError {
    /// A refusal with an explicit HTTP status and gRPC code.
    pub fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new(), headers: HeaderMap::new() }
    }

    /// A gRPC status, with the HTTP status of the house table.
    pub fn from_grpc(code: Code, message: impl Into<String>) -> Self {
        Self::new(http_status_of(code), code, message)
    }

    /// A request the client got wrong: 400 INVALID_ARGUMENT.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidArgument, message)
    }

    /// A body over the configured limit: 413 RESOURCE_EXHAUSTED.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// A body that did not arrive in time: 408 DEADLINE_EXCEEDED.
    pub fn body_too_slow(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            Code::DeadlineExceeded,
            format!("the request body did not arrive within {limit:?}"),
        )
    }

    /// An upstream that broke the exchange (a reset, a protocol error):
    /// 502 with UNAVAILABLE, the gRPC code a client may retry on.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, Code::Unavailable, message)
    }

    /// A request over its rate limit: 429 RESOURCE_EXHAUSTED with
    /// `Retry-After` and the `RateLimit-*` headers of the decision.
    pub fn rate_limited(decision: &Decision) -> Self {
        let wait = decision.retry_after.unwrap_or_default();
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            Code::ResourceExhausted,
            format!("rate limit exceeded: retry in {:.3}s", wait.as_secs_f64()),
        );
        error.headers = decision.headers();
        if !error.headers.contains_key(header::RETRY_AFTER) {
            error.headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        error
    }

    /// A request past its route's `max_in_flight`: 503 UNAVAILABLE with
    /// `Retry-After: 1`. UNAVAILABLE, not RESOURCE_EXHAUSTED: the load is
    /// passing, and it is the code gRPC clients retry (as Envoy's overflow
    /// 503 becomes for its gRPC clients).
    pub fn overloaded(max: usize) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::Unavailable,
            format!("the route has {max} requests in flight already, its max_in_flight: retry in 1s"),
        );
        error.headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        error
    }

    /// A request without valid credentials: 401 UNAUTHENTICATED, with the
    /// `WWW-Authenticate` challenge that says what to send.
    pub fn unauthenticated(message: impl Into<String>, challenge: HeaderValue) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, Code::Unauthenticated, message);
        error.headers.insert(header::WWW_AUTHENTICATE, challenge);
        error
    }

    /// A caller who may not do this: 403 PERMISSION_DENIED.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, Code::PermissionDenied, message)
    }

    /// The same refusal with `more` headers on its response.
    pub fn with_headers(mut self, more: HeaderMap) -> Self {
        self.headers.extend(more);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The gRPC code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The headers that go with the response (`Allow`, `WWW-Authenticate`...).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The response: the JSON body and the headers that go with it.
    pub fn into_response(self) -> Response<ResponseBody> {
        self.log();
        let body = serde_json::json!({
            "code": self.code as i32,
            "message": self.message,
            "details": self.details,
        });
        let mut response = Response::new(full(body.to_string()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // The code, for the observer (the body carries it for the client).
        response.extensions_mut().insert(self.code);
        response
    }

    /// The response for a native gRPC client: a trailers-only answer (HTTP
    /// 200, `grpc-status` and `grpc-message` in the head), so the client
    /// sees the code itself rather than one guessed from an HTTP status.
    pub fn into_grpc_response(self) -> Response<ResponseBody> {
        self.log();
        let mut response = Response::new(full(bytes::Bytes::new()));
        *response.headers_mut() = self.headers;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        insert_grpc_status(headers, self.code, &self.message);
        response
    }
}

impl GatewayError {
    /// Every refusal, once, as it becomes a response: at debug level (a
    /// flood of refusals must not flood the log), under the target
    /// `protogate::refusal`; the message quoted, so that no client text can
    /// start a log line of its own. It never holds a credential: the
    /// policies' messages name what was wrong, never the value.
    fn log(&self) {
        tracing::debug!(
            target: "protogate::refusal",
            status = self.status.as_u16(),
            code = ?self.code,
            message = ?self.message,
            "request refused"
        );
    }
}

/// Sets `grpc-status` to `code` and `grpc-message` to `message`,
/// percent-encoded as the gRPC spec asks (in a head for a trailers-only
/// answer, or in the trailers that end a stream).
pub(crate) fn insert_grpc_status(headers: &mut HeaderMap, code: Code, message: &str) {
    headers.insert("grpc-status", HeaderValue::from(code as i32));
    let message = percent_encoding::utf8_percent_encode(message, GRPC_MESSAGE).to_string();
    if let Ok(message) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", message);
    }
}

/// What `grpc-message` percent-encodes: everything outside printable ASCII, and `%`.
const GRPC_MESSAGE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');

/// The HTTP status of a gRPC code (the house plan's table).
pub fn http_status_of(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<(RouteError, &Method, &str)> for GatewayError {
    fn from((error, method, path): (RouteError, &Method, &str)) -> Self {
        match error {
            RouteError::NotFound => {
                Self::new(StatusCode::NOT_FOUND, Code::NotFound, format!("no route matches {method} {path}"))
            }
            RouteError::MethodNotAllowed { allow } => {
                let listed = allow.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                let mut error = Self::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    Code::Unimplemented,
                    format!("{method} is not allowed on {path} (allowed: {listed})"),
                );
                if let Ok(value) = HeaderValue::from_str(&listed) {
                    error.headers.insert(header::ALLOW, value);
                }
                error
            }
        }
    }
}

impl From<TranscodeError> for GatewayError {
    fn from(error: TranscodeError) -> Self {
        match error {
            TranscodeError::Bind(error) => Self::bad_request(error.message),
            TranscodeError::UnsupportedMediaType(message) => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::InvalidArgument, message)
            }
            TranscodeError::Timeout(error) => Self::bad_request(error.to_string()),
            TranscodeError::MetadataTooLarge(error) => Self::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Code::ResourceExhausted,
                error.to_string(),
            ),
            TranscodeError::DeadlineExceeded(_) => Self::from_grpc(Code::DeadlineExceeded, error.to_string()),
            TranscodeError::Upstream(failure) => {
                let failure = *failure;
                let mut error = Self::from_grpc(failure.code, failure.message);
                error.details = failure.details;
                error.headers = failure.headers;
                error
            }
            TranscodeError::Unreachable(error) => Self::from_grpc(Code::Unavailable, error.to_string()),
            TranscodeError::BadStream(message) => Self::bad_request(message),
            TranscodeError::StreamTooLarge(message) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted, message)
            }
            TranscodeError::RequestTooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted, error.to_string())
            }
            // The backend's fault (502), told with the code a gRPC client
            // meets for a message over its limit.
            TranscodeError::ReplyTooLarge { .. } => {
                Self::new(StatusCode::BAD_GATEWAY, Code::ResourceExhausted, error.to_string())
            }
            TranscodeError::TooManyStreams(message) => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, Code::ResourceExhausted, message)
            }
            TranscodeError::StreamTimeout(message) => {
                Self::new(StatusCode::REQUEST_TIMEOUT, Code::DeadlineExceeded, message)
            }
            TranscodeError::NoReply => Self::from_grpc(Code::Internal, error.to_string()),
            TranscodeError::Render(error) => Self::from_grpc(Code::Internal, error.to_string()),
            TranscodeError::Internal(message) => Self::from_grpc(Code::Internal, message),
        }
    }
}

impl From<AuthError> for GatewayError {
    /// 401 with a challenge (RFC 6750 for bearer tokens: `Bearer` when no
    /// token was sent, `Bearer error="invalid_token"` for a bad one), 403
    /// with `insufficient_scope`, 503 when keys are not available.
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Missing(scheme, message) => {
                let challenge = match scheme {
                    Scheme::Bearer => "Bearer",
                    Scheme::ApiKey => "ApiKey",
                    Scheme::ClientCertificate => "ClientCertificate",
                };
                Self::unauthenticated(message, HeaderValue::from_static(challenge))
            }
            AuthError::Invalid(scheme, message) => {
                let challenge = match scheme {
                    Scheme::Bearer => r#"Bearer error="invalid_token""#,
                    Scheme::ApiKey => "ApiKey",
                    Scheme::ClientCertificate => "ClientCertificate",
                };
                Self::unauthenticated(message, HeaderValue::from_static(challenge))
            }
            AuthError::Forbidden(message) => {
                let mut error = Self::permission_denied(message);
                error.headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
                );
                error
            }
            AuthError::Unavailable(message) => Self::from_grpc(Code::Unavailable, message),
        }
    }
}

impl From<ProxyError> for GatewayError {
    fn from(error: ProxyError) -> Self {
        let message = error.to_string();
        match error {
            ProxyError::Unavailable(_) | ProxyError::Unreachable(_) => {
                Self::from_grpc(Code::Unavailable, message)
            }
            ProxyError::Timeout { .. } => Self::from_grpc(Code::DeadlineExceeded, message),
            ProxyError::PayloadTooLarge { limit } => Self::payload_too_large(limit),
            ProxyError::BadGateway { .. } => Self::bad_gateway(message),
            ProxyError::RequestBody(_) | ProxyError::DotSegments(_) | ProxyError::AmbiguousPath { .. } => {
                Self::bad_request(message)
            }
            // Client-building errors are compile errors; they reach no request.
            ProxyError::ServerName(_) | ProxyError::Tls(_) | ProxyError::Internal(_) => {
                Self::from_grpc(Code::Internal, message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_matches_the_house_plan() {
        let table = [
            (Code::Ok, 200),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::Unauthenticated, 401),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
        ];
        for (code, status) in table {
            assert_eq!(http_status_of(code).as_u16(), status, "{code:?}");
        }
    }

    #[test]
    fn bad_input_is_a_400_and_an_inconsistent_binding_a_500() {
        let bad = crate::transcode::bind::BindError { message: "bad".to_owned() };
        let error = GatewayError::from(TranscodeError::Bind(bad));
        assert_eq!((error.status(), error.code()), (StatusCode::BAD_REQUEST, Code::InvalidArgument));
        let error = GatewayError::from(TranscodeError::Internal("bug".to_owned()));
        assert_eq!((error.status(), error.code()), (StatusCode::INTERNAL_SERVER_ERROR, Code::Internal));
    }

    #[test]
    fn a_rate_limited_request_is_a_429_with_its_headers() {
        let decision = Decision {
            allowed: false,
            limit: 20,
            remaining: 0,
            reset: std::time::Duration::from_secs(4),
            retry_after: Some(std::time::Duration::from_millis(2500)),
        };
        let response = GatewayError::rate_limited(&decision).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let headers = response.headers();
        assert_eq!(headers[header::RETRY_AFTER], "3");
        assert_eq!(headers["ratelimit-limit"], "20");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert_eq!(headers["ratelimit-reset"], "4");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn auth_refusals_carry_their_status_and_challenge() {
        let cases = [
            (AuthError::Missing(Scheme::Bearer, "m".into()), 401, Code::Unauthenticated, Some("Bearer")),
            (
                AuthError::Invalid(Scheme::Bearer, "m".into()),
                401,
                Code::Unauthenticated,
                Some(r#"Bearer error="invalid_token""#),
            ),
            (AuthError::Invalid(Scheme::ApiKey, "m".into()), 401, Code::Unauthenticated, Some("ApiKey")),
            (
                AuthError::Forbidden("m".into()),
                403,
                Code::PermissionDenied,
                Some(r#"Bearer error="insufficient_scope""#),
            ),
            (AuthError::Unavailable("m".into()), 503, Code::Unavailable, None),
        ];
        for (auth, status, code, challenge) in cases {
            let error = GatewayError::from(auth);
            assert_eq!((error.status().as_u16(), error.code()), (status, code));
            let sent = error.headers().get(header::WWW_AUTHENTICATE).and_then(|value| value.to_str().ok());
            assert_eq!(sent, challenge);
        }
    }

    #[test]
    fn method_not_allowed_lists_the_methods() {
        let error = GatewayError::from((
            RouteError::MethodNotAllowed { allow: vec![Method::GET, Method::DELETE] },
            &Method::POST,
            "/a",
        ));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, DELETE");
    }
}
