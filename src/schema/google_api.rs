//! The `google/api` files the gateway understands (http.proto,
//! annotations.proto, httpbody.proto), built in, so that `.proto` sources
//! can import them without vendoring. A copy under the source root wins.

use protox::{
    Error,
    file::{File, FileResolver},
};

const FILES: &[(&str, &str)] = &[
    ("google/api/http.proto", include_str!("../../proto/google/api/http.proto")),
    ("google/api/annotations.proto", include_str!("../../proto/google/api/annotations.proto")),
    ("google/api/httpbody.proto", include_str!("../../proto/google/api/httpbody.proto")),
];

/// Resolves the built-in `google/api` files.
#[derive(Debug, Default)]
pub(super) struct GoogleApiResolver;

impl FileResolver for GoogleApiResolver {
    fn open_file(&self, name: &str) -> Result<File, Error> {
        match FILES.iter().find(|(file, _)| *file == name) {
            Some((file, source)) => File::from_source(file, source),
            None => Err(Error::file_not_found(name)),
        }
    }
}
