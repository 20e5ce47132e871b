//! The `demo.v1.Echo` service, the backend of the gateway's integration
//! tests: it echoes requests, fails on demand with details, metadata and
//! trailers, sleeps, reports the request metadata it saw (and, in the
//! `x-demo-backend` reply header, which backend saw it; `x-reply-<key>`
//! request metadata comes back as `<key>` reply metadata), and takes and
//! returns raw `google.api.HttpBody` payloads.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use prost::Message;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, KeyAndValueRef, MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status};

use crate::proto::demo::v1::echo_server::Echo;
use crate::proto::demo::v1::{
    DownloadRequest, FailRequest, FieldViolation, Kitchen, MetadataReply, SleepRequest, UploadReply,
};
use crate::proto::google::api::HttpBody;
use crate::rpc_status;

/// The longest Sleep honoured.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The Echo service; stateless.
#[derive(Debug)]
pub struct EchoService {
    /// The `x-demo-backend` value of Metadata replies: the backend's address.
    backend: AsciiMetadataValue,
}

impl EchoService {
    /// The service of the backend listening on `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        // An address prints as ASCII digits, dots, colons and brackets only.
        let backend = addr.to_string().parse().unwrap_or_else(|_| AsciiMetadataValue::from_static("unknown"));
        Self { backend }
    }
}

/// The status Fail replies with.
///
/// tonic sends an error returned by a unary handler as a trailers-only
/// response: one HEADERS frame that ends the stream. So the request's
/// `metadata` and `trailers` maps both arrive in that single block, next to
/// `grpc-status`; a real header/trailer split needs a streamed body.
///
/// A `code` outside 0..=16 becomes INVALID_ARGUMENT; 0 is kept, so an OK
/// status with no reply message can be provoked. Entries that are not valid
/// ASCII metadata (including `-bin` keys) are skipped, and tonic drops the
/// reserved ones (`te`, `content-type`, `grpc-status`, `grpc-message`) when
/// it writes the headers.
fn failure(req: FailRequest) -> Status {
    let code = match req.code {
        0..=16 => Code::from(req.code),
        _ => Code::InvalidArgument,
    };
    let mut metadata = MetadataMap::new();
    for (key, value) in req.metadata.iter().chain(&req.trailers) {
        let (Ok(key), Ok(value)) = (key.parse::<AsciiMetadataKey>(), value.parse::<AsciiMetadataValue>())
        else {
            continue;
        };
        metadata.append(key, value);
    }
    if !req.with_details {
        return Status::with_metadata(code, req.message, metadata);
    }
    let violation = FieldViolation { field: "name".into(), description: "must not be empty".into() };
    let details = rpc_status::RpcStatus {
        code: code as i32,
        message: req.message.clone(),
        details: vec![
            prost_types::Any {
                type_url: "type.googleapis.com/demo.v1.FieldViolation".into(),
                value: violation.encode_to_vec(),
            },
            prost_types::Any {
                type_url: "type.googleapis.com/unknown.v1.Mystery".into(),
                value: b"\x08\x01".to_vec(),
            },
        ],
    };
    Status::with_details_and_metadata(code, req.message, details.encode_to_vec().into(), metadata)
}

/// The ASCII entries of `metadata`; repeated keys are joined with ", ".
fn ascii_entries(metadata: &MetadataMap) -> HashMap<String, String> {
    let mut received = BTreeMap::<String, Vec<&str>>::new();
    for entry in metadata.iter() {
        if let KeyAndValueRef::Ascii(key, value) = entry
            && let Ok(value) = value.to_str()
        {
            received.entry(key.as_str().to_ascii_lowercase()).or_default().push(value);
        }
    }
    received.into_iter().map(|(key, values)| (key, values.join(", "))).collect()
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<Kitchen>) -> Result<Response<Kitchen>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn echo_nested(&self, request: Request<Kitchen>) -> Result<Response<Kitchen>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<()>, Status> {
        Err(failure(request.into_inner()))
    }

    async fn sleep(&self, request: Request<SleepRequest>) -> Result<Response<()>, Status> {
        let millis = request.into_inner().millis;
        let millis = u64::try_from(millis)
            .map_err(|_| Status::invalid_argument(format!("millis must not be negative, got {millis}")))?;
        tokio::time::sleep(Duration::from_millis(millis).min(MAX_SLEEP)).await;
        Ok(Response::new(()))
    }

    async fn metadata(&self, request: Request<()>) -> Result<Response<MetadataReply>, Status> {
        let received = ascii_entries(request.metadata());
        let mut response = Response::new(MetadataReply { received: received.clone() });
        // `x-reply-<key>: v` asks for `<key>: v` in the reply's metadata.
        for (key, value) in &received {
            if let Some(key) = key.strip_prefix("x-reply-")
                && let (Ok(key), Ok(value)) = (key.parse::<AsciiMetadataKey>(), value.parse())
            {
                response.metadata_mut().insert(key, value);
            }
        }
        response.metadata_mut().insert("x-echo-header", MetadataValue::from_static("hello"));
        response.metadata_mut().insert("x-demo-backend", self.backend.clone());
        Ok(response)
    }

    async fn upload(&self, request: Request<HttpBody>) -> Result<Response<UploadReply>, Status> {
        let body = request.into_inner();
        let size = i64::try_from(body.data.len()).map_err(|_| Status::invalid_argument("body too large"))?;
        Ok(Response::new(UploadReply { content_type: body.content_type, size }))
    }

    async fn download(&self, request: Request<DownloadRequest>) -> Result<Response<HttpBody>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(HttpBody {
            content_type: "text/plain; charset=utf-8".into(),
            data: format!("hello, {name}").into_bytes(),
            extensions: Vec::new(),
        }))
    }

    async fn unannotated(&self, request: Request<Kitchen>) -> Result<Response<Kitchen>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}
