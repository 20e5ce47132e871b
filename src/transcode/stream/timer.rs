//! A repeating timer polled by hand (a stream body's idle gap and
//! keep-alives, a request stream's idle gap).

use std::{pin::Pin, task::Context, time::Duration};

use tokio::time::{Instant, Sleep};

/// A repeating timer: its period and next expiry.
pub(super) struct Timer {
    pub(super) period: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl Timer {
    pub(super) fn new(period: Duration) -> Self {
        Self { period, sleep: Box::pin(tokio::time::sleep(period)) }
    }

    pub(super) fn restart(&mut self) {
        let next = Instant::now() + self.period;
        self.sleep.as_mut().reset(next);
    }

    pub(super) fn fired(&mut self, cx: &mut Context<'_>) -> bool {
        self.sleep.as_mut().poll(cx).is_ready()
    }
}
