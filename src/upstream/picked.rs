//! An endpoint picked for one call: it counts in the endpoint's calls in
//! flight and holds the breaker's admission until the call's outcome is
//! reported.

use std::{sync::Arc, time::Instant};

use http::Uri;
use tonic::transport::Channel;

use super::{Outcome, Pool, breaker::Permit, endpoint::InFlight};

/// An endpoint chosen for one call, counted in its in-flight calls until
/// dropped. Dropping it without [`Picked::finish`] counts as
/// [`Outcome::Ignored`].
#[derive(Debug)]
pub struct Picked {
    pub(super) pool: Arc<Pool>,
    /// The endpoint's index in the pool.
    pub(super) index: usize,
    pub(super) in_flight: InFlight,
    pub(super) permit: Permit,
    pub(super) reported: bool,
}

impl Picked {
    /// The endpoint's gRPC channel (`None` for an HTTP upstream).
    pub fn channel(&self) -> Option<Channel> {
        self.in_flight.endpoint().channel().cloned()
    }

    /// The endpoint's URI.
    pub fn uri(&self) -> &Uri {
        self.in_flight.endpoint().uri()
    }

    /// Reports how the call went, to outlier detection and the breaker.
    pub fn finish(self, outcome: Outcome) {
        self.finish_at(outcome, Instant::now());
    }

    pub(super) fn finish_at(mut self, outcome: Outcome, now: Instant) {
        self.report(outcome, now);
    }

    fn report(&mut self, outcome: Outcome, now: Instant) {
        self.reported = true;
        self.pool.outlier.record(&self.pool.endpoints, self.index, outcome, now);
        self.pool.breaker.record(self.permit, outcome, now);
    }
}

impl Drop for Picked {
    fn drop(&mut self) {
        if !self.reported {
            self.report(Outcome::Ignored, Instant::now());
        }
    }
}
