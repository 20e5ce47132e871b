//! [`Observers`]: several observers heard as one, each phase handed to
//! every one in order.

use std::sync::Arc;

use super::{Observer, Phase, RequestContext};

/// Hands every phase to each of its observers, in order.
#[derive(Clone, Default)]
pub struct Observers(Vec<Arc<dyn Observer>>);

impl Observers {
    /// No observer yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `observer` hears the phases too, after the others.
    pub fn with(mut self, observer: Arc<dyn Observer>) -> Self {
        self.0.push(observer);
        self
    }
}

impl Observer for Observers {
    fn on_phase(&self, context: &RequestContext, phase: Phase<'_>) {
        for observer in &self.0 {
            observer.on_phase(context, phase);
        }
    }

    fn samples_new_traces(&self) -> bool {
        self.0.iter().any(|observer| observer.samples_new_traces())
    }
}
