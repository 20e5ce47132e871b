//! Descriptor sources become one `DescriptorPool`.
//!
//! A source is a `FileDescriptorSet` file (protoc `--include_imports`, `buf
//! build`), a directory of `.proto` sources compiled at load time with
//! protox, bytes embedded in the binary, or the files an upstream's gRPC
//! server reflection gave ([`fetch_file_set`]; the caller fetches them,
//! since only it has the upstream's channel). Every source is handled as
//! encoded bytes, never decoded through prost-types, whose `MethodOptions`
//! would drop the `google.api.http` extension. Sources merge file by file: a
//! file that two sources both carry must define the same things in both
//! (file options such as `go_package`, source info and encoding order
//! aside; for google/api, google/protobuf and google/rpc files one copy may
//! define more, and the fuller is kept), or loading fails naming both and
//! the first definition that differs.
//!
//! `.proto` sources may import google/api/{http,annotations,httpbody}.proto,
//! google/rpc/{status,code,error_details}.proto and the well-known types
//! without shipping them: all are built in, and the google/rpc files are in
//! every pool, so that standard error details render as JSON.
//!
//! This room reads files and builds the pool; it knows nothing of routes.

mod built_in;
mod file_set;
mod file_shape;
mod raw;
mod reflection;
mod sources;

use std::path::PathBuf;

use prost_reflect::{DescriptorPool, ExtensionDescriptor};

pub use reflection::{FETCH_TIMEOUT, fetch_file_set};
pub use sources::DescriptorSource;

/// The name of the `google.api.http` method option.
pub const HTTP_OPTION: &str = "google.api.http";

/// A descriptor source that cannot be loaded, or sources that disagree.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `.proto` sources that do not compile.
    #[error("cannot compile the .proto sources of {source_name}: {message}")]
    Compile {
        /// The source, as the config names it.
        source_name: String,
        /// protox's message, with file and line.
        message: String,
    },
    /// Bytes that are not an encoded `FileDescriptorSet`.
    #[error("{source_name} is not a valid FileDescriptorSet: {message}")]
    Malformed {
        /// The source.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// Two sources carry different versions of one file.
    #[error("{file} differs between {first} and {second}: {definition}")]
    Conflict {
        /// The .proto file name.
        file: String,
        /// The source that brought it first.
        first: String,
        /// The source that brought a different version.
        second: String,
        /// The first definition that differs, as each source has it.
        definition: String,
    },
    /// An upstream's server reflection could not give its descriptors.
    #[error("server reflection of upstream \"{upstream}\" failed: {message}")]
    Reflection {
        /// The upstream, as the config names it.
        upstream: String,
        /// What failed, with the status the upstream gave.
        message: String,
    },
    /// The merged files do not form a valid pool (a missing import, a duplicate symbol).
    #[error("the descriptor sources do not form a valid set: {0}")]
    Pool(String),
}

/// A problem met while loading: the index of the source it belongs to
/// (`None` for the merged set: a conflict, an invalid pool), and the error.
#[derive(Debug)]
pub struct SourceFailure {
    /// The source's index in the list given to [`Schema::load`].
    pub source: Option<usize>,
    /// What went wrong.
    pub error: SchemaError,
}

/// The loaded descriptors.
#[derive(Debug, Clone)]
pub struct Schema {
    pool: DescriptorPool,
    http_option: Option<ExtensionDescriptor>,
}

impl Schema {
    /// Loads and merges `sources`, in order; none is an empty schema. A
    /// source that fails does not stop the others from being read: every
    /// failure is returned.
    pub fn load(sources: &[DescriptorSource]) -> Result<Self, Vec<SourceFailure>> {
        let mut merged = file_set::MergedFiles::default();
        let mut failures = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let added = source.encoded_file_set().and_then(|bytes| merged.add(&source.to_string(), &bytes));
            if let Err(error) = added {
                let source = match error {
                    SchemaError::Conflict { .. } => None,
                    _ => Some(index),
                };
                failures.push(SourceFailure { source, error });
            }
        }
        if !failures.is_empty() {
            return Err(failures);
        }
        if sources.is_empty() {
            return Ok(Self { pool: DescriptorPool::new(), http_option: None });
        }
        if let Err(error) = merged.add_built_in(built_in::SOURCE_NAME, built_in::GOOGLE_RPC_SET) {
            return Err(vec![SourceFailure { source: None, error }]);
        }
        let pool = DescriptorPool::decode(merged.encode().as_slice()).map_err(|error| {
            vec![SourceFailure { source: None, error: SchemaError::Pool(error.to_string()) }]
        })?;
        let http_option = pool.get_extension_by_name(HTTP_OPTION);
        Ok(Self { pool, http_option })
    }

    /// The pool of every loaded file.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The `google.api.http` option, when google/api/annotations.proto is loaded.
    pub fn http_option(&self) -> Option<&ExtensionDescriptor> {
        self.http_option.as_ref()
    }
}
