//! The real `protogate` binary as a child process: started on a config
//! written to a temporary directory, its diagnostic log (stderr) read line
//! by line on a thread, signalled with `kill`, and waited for with bounds.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, ChildStdout, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// A `protogate run` child; killed when dropped.
pub struct Protogate {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stderr line read so far.
    pub log: Vec<String>,
    _dir: tempfile::TempDir,
}

/// How long the binary may take to log that it serves.
const STARTUP: Duration = Duration::from_secs(20);

impl Protogate {
    /// Writes `yaml` to a temporary `gateway.yaml` and runs `protogate run` on it.
    pub fn run(yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(&dir, yaml);
        let mut child = Command::new(env!("CARGO_BIN_EXE_protogate"))
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, log: Vec::new(), _dir: dir }
    }

    /// The first stderr line (from now on or already read) containing
    /// `needle`; panics after `within`, showing the log so far.
    pub fn wait_for_log(&mut self, needle: &str, within: Duration) -> String {
        if let Some(line) = self.log.iter().find(|line| line.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?} within {within:?}; stderr so far:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// The `addr=` of the log line that contains `message` (e.g.
    /// "protogate is serving"), waited for.
    pub fn addr_logged(&mut self, message: &str) -> SocketAddr {
        let line = self.wait_for_log(message, STARTUP);
        let addr = line.split("addr=").nth(1).and_then(|rest| rest.split_whitespace().next());
        addr.and_then(|addr| addr.parse().ok()).unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// Sends `signal` (`TERM`, `INT`) with `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.unwrap().success(), "kill -{signal} failed");
    }

    /// The exit status, once the process ends within `within`; `None` if it does not.
    pub fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.log.extend(self.lines.try_iter());
                // The reader thread may still be reading the last lines.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
                    self.log.push(line);
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its standard output (read to its end: call once it has exited).
    pub fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().unwrap()
    }
}

impl Drop for Protogate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `yaml` as `gateway.yaml` in `dir`.
pub fn write_config(dir: &tempfile::TempDir, yaml: &str) -> PathBuf {
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}
