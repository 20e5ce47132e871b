//! [`ObserveSettings`]: what the gateway's observers are built with when it
//! starts (compiled from `admin.metrics`, `access_log` and `tracing`), beside the
//! listeners' settings: a reload does not rebuild the observers, so it
//! reports a change here as one that needs a restart.

use std::path::PathBuf;

/// How the gateway's requests are observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserveSettings {
    /// Prometheus metrics are collected (`admin.metrics`, with an admin listener to serve them).
    pub metrics: bool,
    /// The access log, when it is written.
    pub access_log: Option<AccessLogSettings>,
    /// Where spans are exported, if they are.
    pub otlp: Option<OtlpSettings>,
}

/// The OTLP/gRPC export of spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The collector's address.
    pub endpoint: http::Uri,
    /// The spans' `service.name`.
    pub service_name: String,
}

/// Where and how much the access log writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogSettings {
    /// The file appended to (reopened on SIGUSR1), or standard output.
    pub path: Option<PathBuf>,
    /// The share of requests logged, in millionths (answers of 500 and
    /// above are always logged).
    pub sample_per_million: u32,
    /// Query parameters whose values are credentials besides the usual
    /// names: those the config's policies read keys and tokens from.
    pub credential_params: Vec<String>,
}

impl Default for ObserveSettings {
    fn default() -> Self {
        Self { metrics: true, access_log: None, otlp: None }
    }
}

impl ObserveSettings {
    /// Each key whose setting `next` changes, with its value before and after.
    pub fn changes(&self, next: &Self) -> Vec<(&'static str, String, String)> {
        let mut changes = Vec::new();
        if self.metrics != next.metrics {
            changes.push(("admin.metrics", self.metrics.to_string(), next.metrics.to_string()));
        }
        let (before, after) = (self.access_log.as_ref(), next.access_log.as_ref());
        if before.is_some() != after.is_some() {
            changes.push(("access_log.enabled", before.is_some().to_string(), after.is_some().to_string()));
        }
        if let (Some(before), Some(after)) = (before, after) {
            let path = |log: &AccessLogSettings| {
                log.path.as_ref().map_or_else(|| "stdout".to_owned(), |path| path.display().to_string())
            };
            if before.path != after.path {
                changes.push(("access_log.path", path(before), path(after)));
            }
            if before.sample_per_million != after.sample_per_million {
                let share = |log: &AccessLogSettings| (f64::from(log.sample_per_million) / 1e6).to_string();
                changes.push(("access_log.sample", share(before), share(after)));
            }
        }
        if self.otlp != next.otlp {
            let otlp = |otlp: &Option<OtlpSettings>| {
                otlp.as_ref().map_or_else(
                    || "none".to_owned(),
                    |otlp| format!("{} ({})", otlp.endpoint, otlp.service_name),
                )
            };
            changes.push(("tracing.otlp", otlp(&self.otlp), otlp(&next.otlp)));
        }
        changes
    }
}
