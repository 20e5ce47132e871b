//! The most requests one route serves at once (`max_in_flight`, default
//! `limits.max_in_flight`): a count shared by all of the route's bindings,
//! its native gRPC and gRPC-Web calls. A request past it is refused at
//! once (503 `UNAVAILABLE`, `Retry-After: 1`), before any upstream is
//! picked. An admitted request holds an [`InFlightPermit`] until its
//! response body ends or is dropped (a stream holds it to its end), not
//! until its handler returns.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

/// One route's count of requests in flight, and its limit.
#[derive(Debug)]
pub struct InFlightLimit {
    max: usize,
    open: AtomicUsize,
}

/// A request refused because its route had `max` in flight already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded {
    /// The route's limit.
    pub max: usize,
}

impl InFlightLimit {
    /// At most `max` requests at once.
    pub fn new(max: usize) -> Self {
        Self { max, open: AtomicUsize::new(0) }
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// A permit for one more request, unless `max` are in flight.
    pub fn admit(self: &Arc<Self>) -> Result<InFlightPermit, Overloaded> {
        let max = self.max;
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < max).then_some(open + 1))
            .map(|_| InFlightPermit(self.clone()))
            .map_err(|_| Overloaded { max })
    }
}

/// One request's place in its route's count, given back when dropped.
#[derive(Debug)]
pub struct InFlightPermit(Arc<InFlightLimit>);

impl Drop for InFlightPermit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_past_the_limit_is_refused_until_a_permit_is_dropped() {
        let limit = Arc::new(InFlightLimit::new(2));
        let first = limit.admit().unwrap();
        let _second = limit.admit().unwrap();
        assert_eq!(limit.admit().unwrap_err(), Overloaded { max: 2 });
        assert_eq!(limit.in_flight(), 2);
        drop(first);
        assert_eq!(limit.in_flight(), 1);
        assert!(limit.admit().is_ok());
        assert_eq!(limit.in_flight(), 1, "the permit of the last admit dropped at once");
    }
}
