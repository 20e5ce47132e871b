//! The processes under measurement: started as children, pinned to one core
//! when `taskset` can, and read from /proc (CPU time, resident memory).
//!
//! A process is measured with its descendants (nginx's workers are children
//! of its master), so "the gateway's CPU" is everything it ran.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Which cores the load and the measured process run on.
#[derive(Debug, Clone, Copy)]
pub struct Cores {
    /// The core of the measured process (gateway, floor, nginx).
    pub measured: Option<usize>,
    /// The core of this process (load generator and backends).
    pub load: Option<usize>,
}

impl Cores {
    /// Two cores apart when `taskset` exists and there are two; otherwise
    /// no pinning (said in the report).
    pub fn detect() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset").arg("--version").output().is_ok_and(|out| out.status.success());
        if taskset && cores >= 2 {
            Self { measured: Some(cores - 1), load: Some(0) }
        } else {
            Self { measured: None, load: None }
        }
    }

    /// Pins every thread of this process to the load core.
    pub fn pin_self(&self) -> anyhow::Result<()> {
        if let Some(core) = self.load {
            let status = Command::new("taskset")
                .args(["-a", "-p", "-c", &core.to_string(), &std::process::id().to_string()])
                .stdout(Stdio::null())
                .status()?;
            if !status.success() {
                bail!("taskset could not pin the bench to core {core}");
            }
        }
        Ok(())
    }
}

/// A child process, killed when dropped.
#[derive(Debug)]
pub struct Measured {
    name: String,
    child: std::process::Child,
}

impl Measured {
    /// Starts `program` with `args`, on `core` if given, logging warnings only.
    pub fn spawn(name: &str, program: &Path, args: &[&str], core: Option<usize>) -> anyhow::Result<Self> {
        let mut command = match core {
            Some(core) => {
                let mut command = Command::new("taskset");
                command.args(["-c", &core.to_string()]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.args(args).env("RUST_LOG", "warn").stdin(Stdio::null()).stdout(Stdio::null());
        let child =
            command.spawn().with_context(|| format!("cannot start {name} ({})", program.display()))?;
        Ok(Self { name: name.to_owned(), child })
    }

    /// Waits until `addr` accepts connections (at most 30 s), failing early
    /// if the process exits.
    pub async fn wait_until_listening(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited before listening: {status}", self.name);
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("{} is not listening on {addr} after 30 s", self.name)
    }

    /// CPU time (user + system) of the process and its descendants, in µs.
    pub fn cpu_micros(&self) -> u64 {
        ticks_to_micros(tree(self.child.id()).iter().map(|pid| cpu_ticks(*pid)).sum())
    }

    /// Resident memory of the process and its descendants, in KiB:
    /// (now, peak so far).
    pub fn rss_kib(&self) -> (u64, u64) {
        tree(self.child.id()).iter().fold((0, 0), |(now, peak), pid| {
            (now + status_kib(*pid, "VmRSS:"), peak + status_kib(*pid, "VmHWM:"))
        })
    }
}

impl Drop for Measured {
    fn drop(&mut self) {
        // SIGTERM lets nginx take its workers down; SIGKILL if it lingers.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pid` and all its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    let mut next = 0;
    while next < pids.len() {
        let parent = pids[next];
        next += 1;
        let Ok(tasks) = fs::read_dir(format!("/proc/{parent}/task")) else { continue };
        for task in tasks.flatten() {
            let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            pids.extend(children.split_whitespace().filter_map(|child| child.parse::<u32>().ok()));
        }
    }
    pids
}

/// CPU time (user + system) of this process (the load generator and the
/// backends), in µs.
pub fn own_cpu_micros() -> u64 {
    ticks_to_micros(cpu_ticks(std::process::id()))
}

fn ticks_to_micros(ticks: u64) -> u64 {
    ticks * 1_000_000 / clock_ticks_per_second()
}

/// utime + stime of `pid` (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // The command name may hold spaces; the fields after it do not.
    let Some((_, after_name)) = stat.rsplit_once(')') else { return 0 };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after_name` starts at field 3.
    let field = |n: usize| fields.get(n - 3).and_then(|value| value.parse::<u64>().ok()).unwrap_or(0);
    field(14) + field(15)
}

/// A `kB` line of /proc/<pid>/status.
fn status_kib(pid: u32, key: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The unit of /proc/<pid>/stat's times (`getconf CLK_TCK`, almost always 100).
fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// A free loopback port, for a child to listen on. Another process could
/// take it in between; the child then fails to start, loudly.
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}
