//! A background task that lives as long as its owner: dropping the guard
//! aborts it. Health checks (one per endpoint), the re-resolution of an
//! upstream's host names, JWKS refreshes and rate-limit sweeps are held
//! this way.

use std::future::Future;

use tokio::task::AbortHandle;

/// Aborts its task when dropped.
#[derive(Debug)]
pub(crate) struct TaskGuard(AbortHandle);

impl TaskGuard {
    /// Spawns `task` on the current Tokio runtime.
    pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(task).abort_handle())
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
