//! [`ObserveSettings`]: what the gateway's observers are built with when it
//! starts (compiled from `admin.metrics`), beside the listeners' settings:
//! a reload does not rebuild the observers, so it reports a change here as
//! one that needs a restart.

/// How the gateway's requests are observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserveSettings {
    /// Prometheus metrics are collected (`admin.metrics`, with an admin listener to serve them).
    pub metrics: bool,
}

impl Default for ObserveSettings {
    fn default() -> Self {
        Self { metrics: true }
    }
}

impl ObserveSettings {
    /// Each key whose setting `next` changes, with its value before and after.
    pub fn changes(&self, next: &Self) -> Vec<(&'static str, String, String)> {
        let mut changes = Vec::new();
        if self.metrics != next.metrics {
            changes.push(("admin.metrics", self.metrics.to_string(), next.metrics.to_string()));
        }
        changes
    }
}
