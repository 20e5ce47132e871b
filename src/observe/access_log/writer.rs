//! Where the access log's lines go: standard output or a file, written by
//! a thread of its own from a bounded queue, so a slow disk never blocks a
//! request (a line that finds the queue full is dropped and counted). The
//! file is opened for appending and reopened on request (SIGUSR1, for
//! logrotate); the thread flushes whenever the queue is empty.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel},
    },
    thread,
};

/// Lines the queue holds before new ones are dropped.
const QUEUE: usize = 16_384;

enum Message {
    Line(String),
    Reopen,
}

/// The sending side; the thread ends when the last one is dropped.
#[derive(Clone)]
pub(super) struct LogWriter {
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl LogWriter {
    /// Starts the thread writing to `path`, or to standard output.
    pub(super) fn start(path: Option<PathBuf>) -> io::Result<Self> {
        let (queue, lines) = sync_channel(QUEUE);
        let output: Box<dyn Write + Send> = match &path {
            Some(path) => Box::new(open(path)?),
            None => Box::new(io::stdout()),
        };
        thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_all(lines, BufWriter::new(output), path.as_deref()))?;
        Ok(Self { queue, dropped: Arc::new(AtomicU64::new(0)) })
    }

    /// Queues `line` (a newline is added).
    pub(super) fn write(&self, line: String) {
        match self.queue.try_send(Message::Line(line)) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed);
                if dropped.is_multiple_of(10_000) {
                    tracing::warn!(dropped = dropped + 1, "the access log cannot keep up: lines dropped");
                }
            }
        }
    }

    /// Reopens the file (after logrotate moved it), once the lines queued
    /// before are written.
    pub(super) fn reopen(&self) {
        let _ = self.queue.send(Message::Reopen);
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn write_all(lines: Receiver<Message>, mut output: BufWriter<Box<dyn Write + Send>>, path: Option<&Path>) {
    loop {
        let message = match lines.try_recv() {
            Ok(message) => message,
            Err(TryRecvError::Empty) => {
                let _ = output.flush();
                match lines.recv() {
                    Ok(message) => message,
                    Err(_) => return,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        match message {
            Message::Line(mut line) => {
                line.push('\n');
                if let Err(error) = output.write_all(line.as_bytes()) {
                    tracing::warn!(%error, "cannot write the access log");
                }
            }
            Message::Reopen => {
                let _ = output.flush();
                let Some(path) = path else { continue };
                match open(path) {
                    Ok(file) => {
                        output = BufWriter::new(Box::new(file));
                        tracing::info!(path = %path.display(), "access log reopened");
                    }
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "cannot reopen the access log")
                    }
                }
            }
        }
    }
    let _ = output.flush();
}
