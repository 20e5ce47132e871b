//! Where descriptors come from, and how each kind becomes the encoded bytes
//! of a `FileDescriptorSet`.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use protox::file::{ChainFileResolver, GoogleFileResolver, IncludeFileResolver};

use super::{SchemaError, built_in::BuiltInResolver};

/// One descriptor source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescriptorSource {
    /// An encoded `FileDescriptorSet` file.
    File(PathBuf),
    /// `.proto` sources under `root` (also the import path); `files` are
    /// paths relative to it, or every `.proto` file under it when empty.
    Proto {
        /// The import root.
        root: PathBuf,
        /// The files to compile, relative to the root.
        files: Vec<PathBuf>,
    },
    /// An encoded `FileDescriptorSet` held in memory (the demo's).
    Embedded {
        /// A name for messages.
        name: String,
        /// The bytes.
        bytes: &'static [u8],
    },
    /// The encoded `FileDescriptorSet` an upstream's server reflection gave
    /// ([`super::fetch_file_set`]).
    Reflected {
        /// The upstream, as the config names it.
        upstream: String,
        /// The bytes.
        bytes: std::sync::Arc<[u8]>,
    },
}

impl fmt::Display for DescriptorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Proto { root, .. } => write!(f, "proto sources {}", root.display()),
            Self::Embedded { name, .. } => write!(f, "embedded {name}"),
            Self::Reflected { upstream, .. } => write!(f, "server reflection of upstream {upstream:?}"),
        }
    }
}

impl DescriptorSource {
    /// The encoded `FileDescriptorSet` of this source.
    pub(super) fn encoded_file_set(&self) -> Result<Vec<u8>, SchemaError> {
        match self {
            Self::File(path) => {
                std::fs::read(path).map_err(|source| SchemaError::Read { path: path.clone(), source })
            }
            Self::Embedded { bytes, .. } => Ok(bytes.to_vec()),
            Self::Reflected { bytes, .. } => Ok(bytes.to_vec()),
            Self::Proto { root, files } => self.compile_protos(root, files),
        }
    }

    fn compile_protos(&self, root: &Path, files: &[PathBuf]) -> Result<Vec<u8>, SchemaError> {
        let compile_error = |message: String| SchemaError::Compile { source_name: self.to_string(), message };
        let files = if files.is_empty() { proto_files_under(root)? } else { files.to_vec() };
        if files.is_empty() {
            return Err(compile_error(format!("no .proto files under {}", root.display())));
        }
        let mut resolver = ChainFileResolver::new();
        resolver.add(IncludeFileResolver::new(root.to_path_buf()));
        resolver.add(GoogleFileResolver::new());
        resolver.add(BuiltInResolver);
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true).include_source_info(false);
        compiler.open_files(&files).map_err(|e| compile_error(located(&e, root)))?;
        // protox's own encoding keeps every option, extensions included.
        Ok(compiler.encode_file_descriptor_set())
    }
}

/// protox's message, after the file, line and column it points at
/// (`root/notes/v1/notes.proto:12:5: expected ';'`), as protoc writes them.
fn located(error: &protox::Error, root: &Path) -> String {
    use miette::Diagnostic;
    let position = error.labels().and_then(|mut labels| labels.next()).and_then(|label| {
        let contents = error.source_code()?.read_span(label.inner(), 0, 0).ok()?;
        Some((contents.line() + 1, contents.column() + 1))
    });
    match (error.file(), position) {
        (Some(file), Some((line, column))) => {
            format!("{}:{line}:{column}: {error}", root.join(file).display())
        }
        (Some(file), None) => format!("{}: {error}", root.join(file).display()),
        (None, _) => error.to_string(),
    }
}

/// Every `.proto` file under `root`, relative to it, in a stable order.
fn proto_files_under(root: &Path) -> Result<Vec<PathBuf>, SchemaError> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|source| SchemaError::Read { path: dir.clone(), source })?;
        for entry in entries {
            let path = entry.map_err(|source| SchemaError::Read { path: dir.clone(), source })?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "proto")
                && let Ok(relative) = path.strip_prefix(root)
            {
                found.push(relative.to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}
