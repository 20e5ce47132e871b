//! The files the gateway builds in: `google/api` (http.proto,
//! annotations.proto, httpbody.proto), so that `.proto` sources can import
//! them without vendoring (a copy under the source root wins), and
//! `google/rpc` (status.proto, code.proto, error_details.proto), which are
//! also in every pool, so that standard error details render as JSON.

use protox::{
    Error,
    file::{File, FileResolver},
};

const FILES: &[(&str, &str)] = &[
    ("google/api/http.proto", include_str!("../../proto/google/api/http.proto")),
    ("google/api/annotations.proto", include_str!("../../proto/google/api/annotations.proto")),
    ("google/api/httpbody.proto", include_str!("../../proto/google/api/httpbody.proto")),
    ("google/rpc/status.proto", include_str!("../../proto/google/rpc/status.proto")),
    ("google/rpc/code.proto", include_str!("../../proto/google/rpc/code.proto")),
    ("google/rpc/error_details.proto", include_str!("../../proto/google/rpc/error_details.proto")),
];

/// The name the built-in files go by in errors.
pub(super) const SOURCE_NAME: &str = "the built-in google/rpc files";

/// The encoded set of the `google/rpc` files and their imports (build.rs).
pub(super) const GOOGLE_RPC_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/google_rpc.pb"));

/// Resolves the built-in files.
#[derive(Debug, Default)]
pub(super) struct BuiltInResolver;

impl FileResolver for BuiltInResolver {
    fn open_file(&self, name: &str) -> Result<File, Error> {
        match FILES.iter().find(|(file, _)| *file == name) {
            Some((file, source)) => File::from_source(file, source),
            None => Err(Error::file_not_found(name)),
        }
    }
}
