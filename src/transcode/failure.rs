//! A backend's error status turned into what the error module renders: the
//! code, the message, the details of `grpc-status-details-bin` as JSON, and
//! the metadata that came with it.
//!
//! A detail whose type is in the descriptor pool is rendered as its proto3
//! JSON with `@type`; one whose type is not is kept as
//! `{"@type": <type url>, "value": <base64>}`, never dropped.
//!
//! A backend (or a proxy before it) that refuses a call with an HTTP status
//! instead of a gRPC one (431 for a header block too large, 404, 503...)
//! gets the code of gRPC's "HTTP to gRPC status" table and a message
//! naming its HTTP status.

use base64::{Engine, engine::general_purpose::STANDARD};
use http::HeaderMap;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::{Map, Value};

use super::metadata::{add_header_metadata, add_trailer_metadata};
use crate::rpc_status::RpcStatus;

/// A backend's failure, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFailure {
    /// The gRPC code.
    pub code: tonic::Code,
    /// The status message.
    pub message: String,
    /// The rich details, as JSON.
    pub details: Vec<Value>,
    /// `Grpc-Metadata-*` headers from the metadata that came with the status.
    pub headers: HeaderMap,
}

/// How a status reached the gateway, which says what its metadata is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusArrival {
    /// The only header block of the reply (a trailers-only response), or no
    /// reply at all: its metadata is the reply's header metadata.
    Alone,
    /// In trailers after the reply's headers: its metadata is trailers.
    InTrailers,
}

impl UpstreamFailure {
    /// Reads `status`, expanding its details against `pool`; its metadata
    /// becomes `Grpc-Metadata-*` or `Grpc-Trailer-*` headers by `arrival`.
    pub fn from_status(status: tonic::Status, pool: &DescriptorPool, arrival: StatusArrival) -> Self {
        let details = if status.details().is_empty() {
            Vec::new()
        } else {
            match RpcStatus::decode(status.details()) {
                Ok(rich) => rich.details.iter().map(|any| render_any(any, pool)).collect(),
                Err(_) => vec![opaque("type.googleapis.com/google.rpc.Status", status.details())],
            }
        };
        let mut headers = HeaderMap::new();
        match arrival {
            StatusArrival::Alone => add_header_metadata(status.metadata().clone(), &mut headers),
            StatusArrival::InTrailers => add_trailer_metadata(status.metadata().clone(), &mut headers),
        }
        Self { code: status.code(), message: status.message().to_owned(), details, headers }
    }
}

/// How tonic words a reply that carried an HTTP status but no gRPC status.
const TONIC_HTTP_STATUS: &str = "grpc-status header missing, mapped from HTTP status code ";

/// A backend's HTTP-level refusal, as tonic reports it, told plainly: the
/// code of the gRPC table, a message naming the HTTP status. `None` for
/// any other status.
pub fn http_refusal(status: &tonic::Status) -> Option<tonic::Status> {
    let http: u16 = status.message().strip_prefix(TONIC_HTTP_STATUS)?.trim().parse().ok()?;
    let reason = http::StatusCode::from_u16(http).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    Some(tonic::Status::new(
        code_of_http_status(http),
        format!("the backend refused the call with HTTP status {http} {reason}, not a gRPC status"),
    ))
}

/// The gRPC code of an HTTP status that came instead of a gRPC reply
/// (gRPC's doc/http-grpc-status-mapping.md).
fn code_of_http_status(http: u16) -> tonic::Code {
    match http {
        400 => tonic::Code::Internal,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::Unimplemented,
        429 | 502 | 503 | 504 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    }
}

fn render_any(any: &prost_types::Any, pool: &DescriptorPool) -> Value {
    let type_name = any.type_url.rsplit('/').next().unwrap_or_default();
    let Some(descriptor) = pool.get_message_by_name(type_name) else {
        return opaque(&any.type_url, &any.value);
    };
    let Ok(message) = DynamicMessage::decode(descriptor, any.value.as_slice()) else {
        return opaque(&any.type_url, &any.value);
    };
    let options = SerializeOptions::new().stringify_64_bit_integers(true);
    let mut object = Map::new();
    object.insert("@type".into(), Value::String(any.type_url.clone()));
    match message.serialize_with_options(serde_json::value::Serializer, &options) {
        Ok(Value::Object(fields)) => object.extend(fields),
        // A well-known type with a non-object JSON form (Duration, Timestamp...).
        Ok(value) => {
            object.insert("value".into(), value);
        }
        Err(_) => return opaque(&any.type_url, &any.value),
    }
    Value::Object(object)
}

fn opaque(type_url: &str, value: &[u8]) -> Value {
    let mut object = Map::new();
    object.insert("@type".into(), Value::String(type_url.to_owned()));
    object.insert("value".into(), Value::String(STANDARD.encode(value)));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_refusals_follow_the_grpc_table_and_name_the_status() {
        let cases = [
            (400, tonic::Code::Internal),
            (401, tonic::Code::Unauthenticated),
            (403, tonic::Code::PermissionDenied),
            (404, tonic::Code::Unimplemented),
            (429, tonic::Code::Unavailable),
            (431, tonic::Code::Unknown),
            (502, tonic::Code::Unavailable),
            (503, tonic::Code::Unavailable),
            (504, tonic::Code::Unavailable),
            (500, tonic::Code::Unknown),
        ];
        for (http, code) in cases {
            let from_tonic = tonic::Status::unknown(format!("{TONIC_HTTP_STATUS}{http}"));
            let refusal = http_refusal(&from_tonic).unwrap();
            assert_eq!(refusal.code(), code, "{http}");
            assert!(refusal.message().contains(&format!("HTTP status {http}")), "{}", refusal.message());
        }
        assert!(http_refusal(&tonic::Status::unknown("boom")).is_none());
    }

    fn demo_pool() -> DescriptorPool {
        DescriptorPool::decode(crate::proto::DEMO_DESCRIPTOR_SET).unwrap()
    }

    fn any(type_url: &str, value: Vec<u8>) -> prost_types::Any {
        prost_types::Any { type_url: type_url.into(), value }
    }

    #[test]
    fn details_in_the_pool_are_expanded_and_others_kept_opaque() {
        let violation =
            crate::proto::demo::v1::FieldViolation { field: "name".into(), description: "empty".into() };
        let rich = RpcStatus {
            code: 3,
            message: "bad".into(),
            details: vec![
                any("type.googleapis.com/demo.v1.FieldViolation", violation.encode_to_vec()),
                any("type.googleapis.com/unknown.v1.Mystery", vec![8, 1]),
            ],
        };
        let status =
            tonic::Status::with_details(tonic::Code::InvalidArgument, "bad", rich.encode_to_vec().into());
        let failure = UpstreamFailure::from_status(status, &demo_pool(), StatusArrival::Alone);
        assert_eq!(failure.code, tonic::Code::InvalidArgument);
        assert_eq!(
            Value::Array(failure.details),
            serde_json::json!([
                {"@type": "type.googleapis.com/demo.v1.FieldViolation", "field": "name", "description": "empty"},
                {"@type": "type.googleapis.com/unknown.v1.Mystery", "value": "CAE="}
            ])
        );
    }

    #[test]
    fn undecodable_details_are_kept_not_dropped() {
        let status = tonic::Status::with_details(tonic::Code::Internal, "x", vec![0xff, 0xff].into());
        let failure = UpstreamFailure::from_status(status, &demo_pool(), StatusArrival::Alone);
        assert_eq!(failure.details.len(), 1);
        assert_eq!(failure.details[0]["value"], "//8=");
    }
}
