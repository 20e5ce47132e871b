//! Certificates reloaded when their files change: a file-system watcher
//! (notify) on the files' directories triggers a check at once, and a
//! periodic check catches what events miss (network file systems, a
//! watcher that could not start). A check compares each file's change time
//! and size with the last ones read; when they differ, every certificate
//! is read again and the new table replaces the old one for the
//! handshakes that follow. Open connections keep their session.
//!
//! A certificate that fails to load (half written, a key that does not go
//! with it) changes nothing: the old ones keep serving, the failure is
//! logged with its reason and counted, and the next change tries again.

use std::{collections::BTreeSet, path::PathBuf, sync::Arc, sync::atomic::Ordering, time::Duration};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{CertificateError, CertificateSet, TlsEndpoint, resolver::CertificateTable};
use crate::task::TaskGuard;

/// How long to wait after a file event for the others of the same update
/// (a certificate and its key are rarely written at the same instant).
const SETTLE: Duration = Duration::from_millis(100);

type Stamps = Vec<[Option<(std::time::SystemTime, u64)>; 2]>;

impl CertificateSet {
    fn stamps(&self) -> Stamps {
        self.files.iter().map(|files| files.stamps()).collect()
    }
}

impl TlsEndpoint {
    /// Starts watching the certificate files; the watch stops when the
    /// guard is dropped.
    pub(in crate::server) fn watch(self: &Arc<Self>) -> TaskGuard {
        let endpoint = self.clone();
        // Taken now: a change between loading and this point is caught by
        // the first check, not missed.
        let stamps = self.certificates.stamps();
        TaskGuard::spawn(async move { endpoint.reload_loop(stamps).await })
    }

    async fn reload_loop(self: Arc<Self>, mut stamps: Stamps) {
        let (events, mut changed) = mpsc::channel::<()>(1);
        // Kept alive as long as the loop: dropping it stops the events.
        let _watcher = self.file_watcher(events);
        let mut ticks = tokio::time::interval(self.spec.poll_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                Some(()) = changed.recv() => {
                    tokio::time::sleep(SETTLE).await;
                    while changed.try_recv().is_ok() {}
                }
                _ = ticks.tick() => {}
            }
            let certificates = self.certificates.clone();
            let previous = stamps.clone();
            let checked = tokio::task::spawn_blocking(move || {
                let now = certificates.stamps();
                let loaded = (now != previous).then(|| certificates.load());
                (now, loaded)
            })
            .await;
            if let Ok((now, loaded)) = checked {
                stamps = now;
                self.apply(loaded);
            }
        }
    }

    fn apply(&self, loaded: Option<Result<CertificateTable, CertificateError>>) {
        match loaded {
            None => {}
            Some(Ok(table)) => {
                self.resolver.replace(table);
                self.stats.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(certificates = self.certificates.files.len(), "TLS certificates reloaded");
            }
            Some(Err(error)) => {
                self.stats.failed_reloads.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "TLS certificates not reloaded; the previous ones keep serving");
            }
        }
    }

    /// A watcher of the directories of the certificate files (files are
    /// often replaced, by a rename, rather than written in place), or
    /// `None` when one cannot start: the periodic check remains.
    fn file_watcher(&self, events: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
                let _ = events.try_send(());
            }
        })
        .map_err(|error| tracing::warn!(%error, "cannot watch the TLS certificate files; checking them periodically"))
        .ok()?;
        let directories: BTreeSet<PathBuf> = self
            .certificates
            .files
            .iter()
            .flat_map(|files| [&files.cert_file, &files.key_file])
            .filter_map(|file| {
                file.parent()
                    .map(|dir| if dir.as_os_str().is_empty() { ".".into() } else { dir.to_path_buf() })
            })
            .collect();
        for directory in directories {
            if let Err(error) = watcher.watch(&directory, RecursiveMode::NonRecursive) {
                tracing::warn!(%error, directory = %directory.display(), "cannot watch a TLS certificate directory");
            }
        }
        Some(watcher)
    }
}
