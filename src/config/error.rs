//! Why a config file could not be read or parsed: the file, and for a
//! YAML problem its line and column with the lines around them.

use std::path::PathBuf;

/// A config that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not parse into the schema.
    #[error("{origin}{}: {message}", .location.map(|(line, column)| format!(":{line}:{column}")).unwrap_or_default())]
    Parse {
        /// The file (or "inline config").
        origin: String,
        /// The line and column, when the parser knows them.
        location: Option<(u64, u64)>,
        /// The parser's message, and the lines around the place.
        message: String,
    },
}

/// A parse error as `origin:line:column: message`, with the parser's
/// snippet naming `origin` too (it calls its input `<input>`).
pub(super) fn parse_error(error: &serde_saphyr::Error, origin: &str) -> ConfigError {
    let location = error.location().map(|location| (location.line(), location.column()));
    let mut message = error.to_string().replace("<input>", origin);
    if let Some((line, column)) = location {
        // The location leads the message already: it is not repeated.
        for prefix in ["error: ".to_owned(), format!("line {line} column {column}: ")] {
            if let Some(rest) = message.strip_prefix(&prefix) {
                message = rest.to_owned();
            }
        }
    }
    ConfigError::Parse { origin: origin.to_owned(), location, message }
}
