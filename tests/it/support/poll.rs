//! Waiting for a condition instead of sleeping: a bounded poll.

use std::time::{Duration, Instant};

/// The longest a poll waits: far beyond anything a test waits for.
pub const POLL_DEADLINE: Duration = Duration::from_secs(10);

/// Polls `check` every 20ms until it holds; panics naming `what` after
/// [`POLL_DEADLINE`].
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + POLL_DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
