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
            // The log redacts the names it was built with: a policy that
            // reads a credential from a new query parameter needs a restart,
            // or that parameter would be logged in clear.
            if before.credential_params != after.credential_params {
                let names = |log: &AccessLogSettings| log.credential_params.join(", ");
                changes.push((
                    "the jwt/api_key query parameters the access log redacts",
                    names(before),
                    names(after),
                ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn logging(credential_params: &[&str]) -> ObserveSettings {
        let access_log = AccessLogSettings {
            path: None,
            sample_per_million: 1_000_000,
            credential_params: credential_params.iter().map(|name| (*name).to_owned()).collect(),
        };
        ObserveSettings { metrics: true, access_log: Some(access_log), otlp: None }
    }

    #[test]
    fn a_new_credential_query_parameter_is_a_change_that_needs_a_restart() {
        assert_eq!(logging(&["token"]).changes(&logging(&["token"])), []);
        let changes = logging(&["token"]).changes(&logging(&["token", "partner_code"]));
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!((changes[0].1.as_str(), changes[0].2.as_str()), ("token", "token, partner_code"));
    }
}
