//! The observers' config: the access log (`access_log`) and span export
//! (`tracing`).

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

/// Spans of the gateway's requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// Export them over OTLP/gRPC (needs the `otlp` cargo feature).
    pub otlp: Option<OtlpConfig>,
}

/// Where spans are exported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// The collector's OTLP/gRPC address (`http://127.0.0.1:4317`).
    pub endpoint: String,
    /// The `service.name` of the spans (default `protogate`).
    pub service_name: Option<String>,
}
