//! Real `redis-server` processes in temporary directories, persisting
//! nothing; killed when dropped.
//!
//! A cleartext server listens on a unix socket only, and clients reach it
//! through a loopback port this process keeps bound for the server's whole
//! life (a forwarder), so a kill and a restart never give the port away. A
//! TLS server must bind its TCP port itself: a port that turns out taken
//! is tried again with another.
//!
//! Without `redis-server` on the PATH a test skips with a loud message, or
//! fails when `CI=true` (CI installs it: see `.ci/run`).

use std::{
    io::{Read, Write},
    net::TcpStream,
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a starting server may take to answer.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// TLS ports tried before giving up.
const TLS_PORT_TRIES: usize = 5;

/// A running redis-server.
pub struct RedisServer {
    child: Option<Child>,
    /// Where clients connect: the forwarder's port, or the TLS port.
    port: u16,
    /// The forwarder of a cleartext server; stops when dropped.
    front: Option<tokio::task::JoinHandle<()>>,
    password: Option<String>,
    /// TLS only, with these PEM files: certificate, key, CA.
    tls: Option<[PathBuf; 3]>,
    dir: tempfile::TempDir,
}

/// A server stopped with SIGSTOP: it accepts connections (the kernel does)
/// and answers nothing until this guard is dropped (SIGCONT).
pub struct Paused<'a>(&'a RedisServer);

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        self.0.signal("-CONT");
    }
}

impl RedisServer {
    /// A server without a password; `None` when redis-server is missing
    /// outside CI. Call it inside a tokio runtime (the forwarder runs there).
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
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = Self { child: None, port: 0, front: None, password, tls, dir };
        if server.tls.is_some() {
            for _ in 0..TLS_PORT_TRIES {
                // Redis binds the port itself: a candidate, and another if
                // it was taken meanwhile.
                server.port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|listener| listener.local_addr())
                    .expect("a free port")
                    .port();
                if server.try_start() {
                    return Some(server);
                }
            }
            panic!("redis-server did not start on any of {TLS_PORT_TRIES} free ports");
        }
        server.front = Some(server.forward());
        server.restart();
        Some(server)
    }

    /// Binds the loopback port clients use and forwards each connection to
    /// the server's unix socket.
    fn forward(&mut self) -> tokio::task::JoinHandle<()> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the Redis forwarder");
        self.port = listener.local_addr().expect("its address").port();
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("inside a tokio runtime");
        let socket = self.socket();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let socket = socket.clone();
                tokio::spawn(async move {
                    // Redis down: the client sees its connection closed.
                    if let Ok(mut server) = tokio::net::UnixStream::connect(&socket).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        })
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Zeroes the server's command statistics (`CONFIG RESETSTAT`).
    pub async fn reset_stats(&self) {
        let _: () =
            redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut self.observer().await).await.unwrap();
    }

    /// How many times the server ran `command` (lower case, as `INFO
    /// commandstats` names it) since it started or its statistics were reset.
    pub async fn calls(&self, command: &str) -> u64 {
        let info: String =
            redis::cmd("INFO").arg("commandstats").query_async(&mut self.observer().await).await.unwrap();
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |rest| rest.split(',').next().unwrap_or_default().parse().expect("a count of calls"))
    }

    /// A connection of the test's own, apart from the code under test
    /// (cleartext, no password).
    async fn observer(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).expect("the server's URL");
        client.get_multiplexed_async_connection().await.expect("the server answers")
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server (SIGSTOP) until the guard is dropped.
    pub fn pause(&self) -> Paused<'_> {
        self.signal("-STOP");
        Paused(self)
    }

    fn signal(&self, signal: &str) {
        let Some(child) = &self.child else { return };
        let status = Command::new("kill").arg(signal).arg(child.id().to_string()).status();
        assert!(status.is_ok_and(|status| status.success()), "kill {signal} redis-server");
    }

    /// Starts the server again (killing it first if it runs), and waits
    /// until it answers.
    pub fn restart(&mut self) {
        assert!(self.try_start(), "redis-server exited at start (port {})", self.port);
    }

    /// Starts the server; whether it answers before it exits.
    fn try_start(&mut self) -> bool {
        self.kill();
        let mut command = Command::new("redis-server");
        let port = self.port.to_string();
        match &self.tls {
            None => command.args(["--port", "0"]).arg("--unixsocket").arg(self.socket()),
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
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let exited =
                self.child.as_mut().map(|child| child.try_wait().expect("the state of redis-server"));
            if exited.is_some_and(|status| status.is_some()) {
                self.child = None;
                return false;
            }
            if self.answers() {
                return true;
            }
            assert!(Instant::now() < deadline, "redis-server did not answer within {START_DEADLINE:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server answers PING (or says it wants a password) on its
    /// unix socket; with TLS, whether it accepts connections.
    fn answers(&self) -> bool {
        if self.tls.is_some() {
            return TcpStream::connect(("127.0.0.1", self.port)).is_ok();
        }
        let Ok(mut stream) = UnixStream::connect(self.socket()) else { return false };
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
        if let Some(front) = &self.front {
            front.abort();
        }
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
