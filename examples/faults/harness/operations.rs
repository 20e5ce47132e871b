//! The operator's faults: config reloads under load (the config file
//! rewritten and reloaded again and again, every other time with an
//! upstream setting changed, so that the upstream is built afresh), and
//! SIGTERM (a real signal to this process, caught by the gateway's own
//! [`StopSignals`], then the graceful shutdown of [`Shutdown::run`]).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use protogate::{
    reload::{ConfigSource, ReloadResult, Reloader, Trigger},
    server::{RunningServer, Shutdown, ShutdownSettings, shutdown::StopSignals, shutdown::Stopped},
};

/// The gateway's config file, rewritten for each reload.
pub struct ConfigFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
    yaml: String,
}

impl ConfigFile {
    /// Writes `yaml` (its paths absolute) to a file of its own.
    pub fn write(yaml: String) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("gateway.yaml");
        std::fs::write(&path, &yaml).expect("the config file is written");
        Self { _dir: dir, path, yaml }
    }

    /// The reloader of the file (its file watcher is not started: the
    /// harness says when to reload).
    pub async fn reloader(&self) -> Arc<Reloader> {
        Reloader::start(ConfigSource::File(self.path.clone()), Vec::new())
            .await
            .unwrap_or_else(|error| panic!("the harness config does not load:\n{}", error.lines().join("\n")))
    }

    /// The config of the `round`-th reload: every odd round changes the
    /// upstreams' connect timeout (so they are built afresh), every round
    /// adds a route of its own.
    fn variant(&self, round: u32) -> String {
        let connect = if round % 2 == 1 { "connect_timeout: 260ms" } else { "connect_timeout: 250ms" };
        format!(
            "{}  - http: {{ prefix: /reload-{round}, upstream: legacy }}\n",
            self.yaml.replace("connect_timeout: 250ms", connect)
        )
    }
}

/// Rewrites and reloads the config every `every` until `phase` has passed;
/// how many reloads were swapped in, and why any other was refused.
pub async fn reload_for(
    file: &ConfigFile,
    reloader: &Reloader,
    phase: Duration,
    every: Duration,
) -> (u32, Vec<String>) {
    let end = Instant::now() + phase;
    let (mut swapped, mut refused) = (0, Vec::new());
    let mut round = 1;
    while Instant::now() < end {
        std::fs::write(&file.path, file.variant(round)).expect("the config file is rewritten");
        let report = reloader.reload(Trigger::Admin).await;
        match report.result {
            ReloadResult::Ok => swapped += 1,
            ReloadResult::Failed => refused.push(format!("reload {round}: {}", report.errors.join("; "))),
        }
        round += 1;
        tokio::time::sleep(every).await;
    }
    (swapped, refused)
}

/// Sends SIGTERM to this process once the gateway listens for it, and
/// stops `server` the way the binary does; how the stop ended, and when
/// the signal went.
pub async fn sigterm(server: RunningServer, settings: ShutdownSettings) -> (Stopped, Instant) {
    let signals = StopSignals::listen().expect("the stop signals are listened to");
    let stopping = tokio::spawn(Shutdown::new(settings).run(signals, vec![server]));
    let sent = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -TERM failed");
    (stopping.await.expect("the shutdown task"), sent)
}

/// The absolute path of a file of the repository.
pub fn in_repository(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative).display().to_string()
}
