//! The observers' config: the access log (`access_log`).

use std::path::PathBuf;

use serde::Deserialize;

use super::Ratio;

/// One JSON line per request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    /// Write it (default true).
    pub enabled: Option<bool>,
    /// The file to append to (reopened on SIGUSR1); default: standard output.
    pub path: Option<PathBuf>,
    /// The share of requests logged, 0 to 1 (default 1); answers of 500 and
    /// above are always logged.
    pub sample: Option<Ratio>,
}
