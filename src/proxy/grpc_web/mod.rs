//! gRPC-Web, translated to native gRPC and back, so a browser reaches the
//! same gRPC pass-through a native client does.
//!
//! A request (`application/grpc-web`, `+proto`, or `application/grpc-web-text`
//! with its body in base64) becomes a native gRPC request: the content type
//! `application/grpc` (its `+suffix` kept), `TE: trailers`, no
//! `Content-Length`, the text body decoded as it streams
//! ([`decode::Base64Decoded`]). The answer goes back as gRPC-Web: the
//! content type the client spoke, the messages as they come, and the status
//! (HTTP/2 trailers, or a trailers-only head) as the trailer frame (`0x80`)
//! at the end of the body ([`encode::GrpcWebBody`]), in base64 for text
//! clients. Only unary and server-streaming calls (browsers cannot stream
//! a request).
//!
//! It must not route, run policies or know the server: the gateway chooses
//! the route and runs its chain around the translated call.

mod decode;
mod encode;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, header, request::Parts};
use http_body::Body;
use http_body_util::BodyExt;

use crate::{
    body::{BoxError, ResponseBody},
    observe::RequestContext,
};

pub use decode::InvalidBase64;

/// How a gRPC-Web client frames its bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcWebMode {
    /// `application/grpc-web[+proto]`: binary frames, as gRPC's.
    Binary,
    /// `application/grpc-web-text[+proto]`: the frames in base64.
    Text,
}

impl GrpcWebMode {
    /// The mode of a gRPC-Web request (the router told it from others),
    /// from its content type.
    pub fn of(headers: &HeaderMap) -> Self {
        let text = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc-web-text"));
        if text { Self::Text } else { Self::Binary }
    }

    /// The content type of the answer.
    fn content_type(self) -> HeaderValue {
        match self {
            Self::Binary => HeaderValue::from_static("application/grpc-web+proto"),
            Self::Text => HeaderValue::from_static("application/grpc-web-text+proto"),
        }
    }
}

/// The native gRPC request a gRPC-Web request in `mode` stands for.
pub fn to_grpc<B>(mode: GrpcWebMode, mut parts: Parts, body: B) -> Request<ResponseBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let headers = &mut parts.headers;
    let content_type = headers.get(header::CONTENT_TYPE).map(grpc_content_type);
    headers
        .insert(header::CONTENT_TYPE, content_type.unwrap_or(HeaderValue::from_static("application/grpc")));
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    headers.remove(header::CONTENT_LENGTH);
    let body = body.map_err(Into::into);
    let body = match mode {
        GrpcWebMode::Binary => body.boxed_unsync(),
        GrpcWebMode::Text => decode::Base64Decoded::new(body.boxed_unsync()).boxed_unsync(),
    };
    Request::from_parts(parts, body)
}

/// `application/grpc` with the `+suffix` of a gRPC-Web content type
/// (`application/grpc-web-text+proto` → `application/grpc+proto`).
fn grpc_content_type(web: &HeaderValue) -> HeaderValue {
    let suffix = web.as_bytes().iter().position(|&byte| byte == b'+').map(|at| &web.as_bytes()[at..]);
    let mut value = b"application/grpc".to_vec();
    value.extend_from_slice(suffix.unwrap_or_default());
    HeaderValue::from_bytes(&value).unwrap_or(HeaderValue::from_static("application/grpc"))
}

/// The gRPC-Web answer in `mode` to a native gRPC `response`; the status
/// it carries is noted in `context`.
pub fn to_grpc_web(
    mode: GrpcWebMode,
    response: Response<ResponseBody>,
    context: Arc<RequestContext>,
) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    // A trailers-only answer: its status goes in the body's trailer frame
    // too, where gRPC-Web clients read it.
    let head_status =
        parts.headers.contains_key("grpc-status").then(|| encode::status_headers(&parts.headers));
    parts.headers.insert(header::CONTENT_TYPE, mode.content_type());
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = encode::GrpcWebBody::new(body, mode, head_status, context).boxed_unsync();
    Response::from_parts(parts, body)
}
