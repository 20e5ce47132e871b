//! Descriptors from an upstream's gRPC server reflection.
//!
//! [`fetch_file_set`] asks `grpc.reflection.v1` (falling back to
//! `v1alpha` when the upstream answers UNIMPLEMENTED) for its services,
//! then for the file that defines each one, then for every file those
//! import, transitively, and returns them as one encoded
//! `FileDescriptorSet` sorted by file name (so that two fetches of the same
//! API give the same bytes). The files are kept as the server sent them,
//! options included. The two protocol versions have the same messages on the
//! wire, so one set of types (v1's) speaks both. This module only fetches;
//! merging and building the pool are the caller's.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use http::uri::PathAndQuery;
use tonic::{Code, Status, client::Grpc};

use crate::upstream::{GrpcChannel, GrpcConnection};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, ServerReflectionResponse, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse,
};

use super::{
    SchemaError,
    file_set::{encode_set, file_name},
    raw::{fields, length_delimited_payload},
};

/// How long one fetch (every round trip of it) may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

const V1: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const V1_ALPHA: &str = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
const FILE_DEPENDENCY: u32 = 3;
/// The largest reflection answer accepted (a big API's whole file set).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Fetches every file the services of `upstream` need, over `channel`,
/// within [`FETCH_TIMEOUT`].
pub async fn fetch_file_set(channel: GrpcChannel, upstream: &str) -> Result<Vec<u8>, SchemaError> {
    let failed = |message: String| SchemaError::Reflection { upstream: upstream.to_owned(), message };
    match tokio::time::timeout(FETCH_TIMEOUT, fetch(channel)).await {
        Ok(result) => result.map_err(failed),
        Err(_) => Err(failed(format!("no answer within {}s", FETCH_TIMEOUT.as_secs()))),
    }
}

async fn fetch(channel: GrpcChannel) -> Result<Vec<u8>, String> {
    let connection =
        channel.connection().await.map_err(|error| describe("connecting", &Status::from_error(error)))?;
    let mut client = ReflectionClient {
        grpc: Grpc::new(connection).max_decoding_message_size(MAX_ANSWER_BYTES),
        path: V1,
    };
    let services = match client.list_services().await {
        Err(status) if status.code() == Code::Unimplemented => {
            client.path = V1_ALPHA;
            client.list_services().await.map_err(|status| match status.code() {
                Code::Unimplemented => {
                    "it does not serve gRPC server reflection (neither grpc.reflection.v1 nor v1alpha)"
                        .to_owned()
                }
                _ => describe("listing its services (v1alpha)", &status),
            })?
        }
        other => other.map_err(|status| describe("listing its services", &status))?,
    };
    let mut files = BTreeMap::new();
    let symbols = services.into_iter().map(MessageRequest::FileContainingSymbol).collect();
    client.add_files(symbols, &mut files).await?;
    // A server may send a file without the files it imports: ask for those
    // until every import is present (a round that adds none is an error).
    loop {
        let missing = missing_imports(&files)?;
        if missing.is_empty() {
            break;
        }
        let before = files.len();
        let asked: Vec<String> = missing.iter().cloned().collect();
        client
            .add_files(missing.into_iter().map(MessageRequest::FileByFilename).collect(), &mut files)
            .await?;
        if files.len() == before {
            return Err(format!("it does not send the imported files {}", asked.join(", ")));
        }
    }
    Ok(encode_set(files.values().map(Vec::as_slice)))
}

/// One protocol version's stream, opened once per batch of questions.
struct ReflectionClient {
    grpc: Grpc<GrpcConnection>,
    path: &'static str,
}

impl ReflectionClient {
    /// Asks every question of `requests` on one stream; the answers, in order.
    async fn ask(&mut self, requests: Vec<MessageRequest>) -> Result<Vec<MessageResponse>, Status> {
        let requests: Vec<ServerReflectionRequest> = requests
            .into_iter()
            .map(|message| ServerReflectionRequest { host: String::new(), message_request: Some(message) })
            .collect();
        let expected = requests.len();
        self.grpc.ready().await.map_err(|error| Status::unavailable(error.to_string()))?;
        let codec = tonic_prost::ProstCodec::<ServerReflectionRequest, ServerReflectionResponse>::default();
        let request = tonic::Request::new(tokio_stream::iter(requests));
        let mut answers =
            self.grpc.streaming(request, PathAndQuery::from_static(self.path), codec).await?.into_inner();
        let mut out = Vec::with_capacity(expected);
        while out.len() < expected {
            match answers.message().await? {
                Some(answer) => out.extend(answer.message_response),
                None => {
                    return Err(Status::data_loss(format!(
                        "the stream ended after {} of {expected} answers",
                        out.len()
                    )));
                }
            }
        }
        Ok(out)
    }

    async fn list_services(&mut self) -> Result<Vec<String>, Status> {
        let answers = self.ask(vec![MessageRequest::ListServices(String::new())]).await?;
        match answers.into_iter().next() {
            Some(MessageResponse::ListServicesResponse(list)) => {
                Ok(list.service.into_iter().map(|service| service.name).collect())
            }
            Some(MessageResponse::ErrorResponse(error)) => {
                Err(Status::new(error.error_code.into(), error.error_message))
            }
            _ => Err(Status::internal("the answer to ListServices is not a list of services")),
        }
    }

    /// Asks `requests` and adds every file the answers carry, by name.
    async fn add_files(
        &mut self,
        requests: Vec<MessageRequest>,
        files: &mut BTreeMap<String, Vec<u8>>,
    ) -> Result<(), String> {
        let asked: Vec<String> = requests.iter().map(question).collect();
        let answers = self.ask(requests).await.map_err(|status| describe("fetching descriptors", &status))?;
        for (answer, asked) in answers.into_iter().zip(&asked) {
            match answer {
                MessageResponse::FileDescriptorResponse(found) => {
                    for file in found.file_descriptor_proto {
                        let name = file_name(&file).map_err(|e| format!("{asked}: a malformed file: {e}"))?;
                        files.entry(name).or_insert(file);
                    }
                }
                MessageResponse::ErrorResponse(error) => {
                    let code = Code::from(error.error_code);
                    return Err(format!("{asked}: {code:?}: {}", error.error_message));
                }
                _ => return Err(format!("{asked}: the answer carries no file")),
            }
        }
        Ok(())
    }
}

/// The imports of `files` that are not among them.
fn missing_imports(files: &BTreeMap<String, Vec<u8>>) -> Result<BTreeSet<String>, String> {
    let mut missing = BTreeSet::new();
    for (name, file) in files {
        for (tag, field) in fields(file).map_err(|e| format!("{name}: {e}"))? {
            if tag != FILE_DEPENDENCY {
                continue;
            }
            let import = length_delimited_payload(field).map_err(|e| format!("{name}: {e}"))?;
            let import = String::from_utf8_lossy(import);
            if !files.contains_key(import.as_ref()) {
                missing.insert(import.into_owned());
            }
        }
    }
    Ok(missing)
}

/// `the file defining demo.v1.Library`, for errors.
fn question(request: &MessageRequest) -> String {
    match request {
        MessageRequest::FileContainingSymbol(symbol) => format!("the file defining {symbol}"),
        MessageRequest::FileByFilename(file) => format!("file {file}"),
        _ => "a question".to_owned(),
    }
}

/// What failed, and the status the upstream (or the connection) gave.
fn describe(doing: &str, status: &Status) -> String {
    let cause = std::error::Error::source(status).map(|source| format!(" ({source})")).unwrap_or_default();
    format!("{doing}: {:?}: {}{cause}", status.code(), status.message())
}
