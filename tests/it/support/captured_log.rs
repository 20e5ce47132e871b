//! What the library logs on the test's own thread, captured as text: the
//! refusal log (`protogate::refusal`) and the rate limits' outage log
//! (`protogate::policy::rate_limit`).
//!
//! One process-wide subscriber, set once: tracing caches a callsite's
//! interest, and a thread-scoped subscriber would miss callsites another
//! test thread met first. Each test that captures runs its runtime on its
//! own thread (`#[tokio::test]`, current-thread), so what it captures is
//! its own.

use std::{cell::RefCell, io::Write, sync::Once};

/// The targets captured, and their levels.
const FILTER: &str = "protogate::refusal=debug,protogate::policy::rate_limit=info";

thread_local! {
    /// What was logged on this thread, while a test captures it.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Appends to this thread's capture, if one is on; else drops the bytes.
struct ThreadWriter;

impl Write for ThreadWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with_borrow_mut(|captured| captured.as_mut().map(|buffer| buffer.extend_from_slice(bytes)));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The capture of this thread's log, from `start` until dropped.
pub struct CapturedLog;

impl CapturedLog {
    /// Starts capturing (empty).
    pub fn start() -> Self {
        static GLOBAL: Once = Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(FILTER)
                .with_ansi(false)
                .with_writer(|| ThreadWriter)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the test binary");
        });
        CAPTURED.set(Some(Vec::new()));
        Self
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        CAPTURED.with_borrow(|captured| {
            String::from_utf8_lossy(captured.as_deref().unwrap_or_default()).into_owned()
        })
    }

    /// The lines captured so far that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> usize {
        self.text().lines().filter(|line| line.contains(needle)).count()
    }
}

impl Drop for CapturedLog {
    fn drop(&mut self) {
        CAPTURED.set(None);
    }
}
