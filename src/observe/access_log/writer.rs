//! Where the access log's lines go: standard output or a file. Requests
//! append their line to one shared, bounded buffer (a line that finds it
//! full is dropped and counted, so a slow disk never blocks a request);
//! a thread of its own swaps the buffer out every [`WRITE_EVERY`] and
//! writes it with one call. No request wakes that thread or makes a
//! system call: a line costs its formatting and a short lock.
//!
//! The file is opened for appending and reopened on request (SIGUSR1, for
//! logrotate) once the lines before it are written. Dropping the
//! [`LogWriter`] writes what is buffered and waits for the thread.

use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    mem,
    path::{Path, PathBuf},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    thread::{self, JoinHandle},
    time::Duration,
};

/// How often the buffered lines are written.
const WRITE_EVERY: Duration = Duration::from_millis(50);
/// Bytes the buffer holds before new lines are dropped.
const MAX_BUFFERED: usize = 8 << 20;

/// What requests and the writing thread share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the thread early: a reopen, or the writer dropped.
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Lines not yet written, each ending in a newline.
    lines: Vec<u8>,
    /// Lines dropped because the buffer was full.
    dropped: u64,
    reopen: bool,
    stop: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The log's writing thread, and the buffer requests append to.
pub(super) struct LogWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Asks a [`LogWriter`]'s thread to reopen its file.
#[derive(Clone)]
pub(super) struct Reopener(Arc<Shared>);

impl LogWriter {
    /// Starts the thread writing to `path`, or to standard output.
    pub(super) fn start(path: Option<PathBuf>) -> io::Result<Self> {
        let output: Box<dyn Write + Send> = match &path {
            Some(path) => Box::new(open(path)?),
            None => Box::new(io::stdout()),
        };
        let shared = Arc::new(Shared::default());
        let writing = shared.clone();
        let thread = thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_until_stopped(&writing, output, path.as_deref()))?;
        Ok(Self { shared, thread: Some(thread) })
    }

    /// Appends one line that `format` writes (a newline is added). A line
    /// that fails to format leaves nothing behind.
    pub(super) fn write<E>(&self, format: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) {
        let mut state = self.shared.state();
        if state.lines.len() >= MAX_BUFFERED {
            state.dropped += 1;
            if state.dropped % 10_000 == 1 {
                tracing::warn!(dropped = state.dropped, "the access log cannot keep up: lines dropped");
            }
            return;
        }
        let start = state.lines.len();
        match format(&mut state.lines) {
            Ok(()) => state.lines.push(b'\n'),
            Err(_) => state.lines.truncate(start),
        }
    }

    /// What reopens the file (after logrotate moved it).
    pub(super) fn reopener(&self) -> Reopener {
        Reopener(self.shared.clone())
    }
}

impl Reopener {
    /// Reopens the file, once the lines buffered before are written.
    pub(super) fn reopen(&self) {
        self.0.state().reopen = true;
        self.0.wake.notify_one();
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.shared.state().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Every [`WRITE_EVERY`] (or when woken), takes the buffered lines and
/// writes them; reopens when asked; returns once stopped and written.
fn write_until_stopped(shared: &Shared, mut output: Box<dyn Write + Send>, path: Option<&Path>) {
    let mut taken = Vec::new();
    loop {
        let (reopen, stop) = {
            let mut state = shared.state();
            if !state.reopen && !state.stop {
                state =
                    shared.wake.wait_timeout(state, WRITE_EVERY).unwrap_or_else(PoisonError::into_inner).0;
            }
            mem::swap(&mut state.lines, &mut taken);
            (mem::take(&mut state.reopen), state.stop)
        };
        if !taken.is_empty() {
            if let Err(error) = output.write_all(&taken).and_then(|()| output.flush()) {
                tracing::warn!(%error, "cannot write the access log");
            }
            taken.clear();
        }
        if reopen && let Some(path) = path {
            match open(path) {
                Ok(file) => {
                    output = Box::new(file);
                    tracing::info!(path = %path.display(), "access log reopened");
                }
                Err(error) => tracing::warn!(path = %path.display(), %error, "cannot reopen the access log"),
            }
        }
        if stop {
            return;
        }
    }
}
