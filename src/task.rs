//! A background task that lives as long as its owner: dropping the guard
//! aborts it. Health checks (one per endpoint), the re-resolution of an
//! upstream's host names, JWKS refreshes and rate-limit sweeps are held
//! this way. [`off_workers`] runs CPU-heavy work (compiling a config) on
//! a blocking thread, so that the tasks serving requests do not wait for it.

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

/// Runs `work` on the runtime's blocking threads and waits for it: the
/// runtime's workers go on serving meanwhile, even when there is only one.
/// A panic in `work` is resumed here. Should the runtime shut down before
/// `work` starts, this never completes (nothing polls it any more).
pub(crate) async fn off_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => std::future::pending().await,
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
