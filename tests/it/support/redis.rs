//! Real `redis-server` processes on free loopback ports, in temporary
//! directories, persisting nothing; killed when dropped.
//!
//! Without `redis-server` on the PATH a test skips with a loud message, or
//! fails when `CI=true` (CI installs it: see `.ci/run`).

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A running redis-server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    /// TLS only, with these PEM files: certificate, key, CA.
    tls: Option<[PathBuf; 3]>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// A server without a password; `None` when redis-server is missing
    /// outside CI.
    pub fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// A server that requires `password`.
    pub fn start_with_password(password: &str) -> Option<Self> {
        Self::start_with(Some(password.to_owned()))
    }

    /// A server that speaks TLS only (no cleartext port), with the server
    /// certificate `cert` and key `key`; `ca` for clients it would verify
    /// (it asks none for a certificate).
    pub fn start_tls(cert: &Path, key: &Path, ca: &Path) -> Option<Self> {
        Self::start_as(None, Some([cert.to_path_buf(), key.to_path_buf(), ca.to_path_buf()]))
    }

    fn start_with(password: Option<String>) -> Option<Self> {
        Self::start_as(password, None)
    }

    fn start_as(password: Option<String>, tls: Option<[PathBuf; 3]>) -> Option<Self> {
        if !installed() {
            let message =
                "redis-server is not installed: install it (apt-get install redis-server) to run this test";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
            // Straight to stderr: the test harness captures eprintln!.
            let _ = writeln!(std::io::stderr(), "\n!!!!!!!! SKIPPED: {message} !!!!!!!!\n");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = Self { child: None, port, password, tls, dir };
        server.restart();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (killing it first if it
    /// runs), and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new("redis-server");
        let port = self.port.to_string();
        match &self.tls {
            None => command.args(["--port", &port]),
            Some([cert, key, ca]) => command
                .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .arg("--tls-ca-cert-file")
                .arg(ca),
        };
        command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        self.child = Some(command.spawn().expect("redis-server starts"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within 10s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server answers PING (or says it wants a password); with
    /// TLS, whether it accepts connections.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        if self.tls.is_some() {
            return true;
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream
                .read(&mut reply)
                .is_ok_and(|n| reply[..n].starts_with(b"+PONG") || reply[..n].starts_with(b"-NOAUTH"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
