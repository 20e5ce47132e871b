//! The file trigger: the config file, every descriptor file and every
//! `.proto` directory of the running config are watched (the `notify`
//! crate), and a change, once quiet for [`DEBOUNCE`], reloads.
//!
//! A file is watched through its directory (editors replace a file by
//! renaming a new one over it, which a watch on the file itself would not
//! survive); only events on the file count. The set follows the config:
//! after every reload, whatever its trigger, the watches are those of the
//! config serving now. Reading a file (which compiling does) is not a change.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{Reloader, Trigger};
use crate::{config::Config, task::TaskGuard};

/// How long the files must stay quiet before a reload: an editor's save or
/// a `cp` of several descriptor files is one reload.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// A path a config is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Watched {
    /// A file (the config, a descriptor set).
    File(PathBuf),
    /// A directory of `.proto` sources, with everything under it.
    Dir(PathBuf),
}

/// The files the config at `path` is read from.
pub(super) fn files_of(path: &Path, config: &Config, base_dir: &Path) -> Vec<Watched> {
    let mut watched = vec![Watched::File(path.to_path_buf())];
    for descriptor in &config.descriptors {
        watched.extend(descriptor.file.as_ref().map(|file| Watched::File(base_dir.join(file))));
        watched.extend(descriptor.proto.as_ref().map(|root| Watched::Dir(base_dir.join(root))));
    }
    watched
}

/// What the events are matched against: canonical paths.
#[derive(Debug, Default)]
struct Targets {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Targets {
    fn matches(&self, paths: &[PathBuf]) -> bool {
        paths
            .iter()
            .any(|path| self.files.contains(path) || self.dirs.iter().any(|dir| path.starts_with(dir)))
    }
}

/// Starts watching the files of `reloader`'s running config.
pub(super) fn start(reloader: Arc<Reloader>) -> Result<TaskGuard, notify::Error> {
    let targets = Arc::new(Mutex::new(Targets::default()));
    let (changed, mut changes) = mpsc::channel::<()>(1);
    let seen = targets.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| match event {
        Ok(event) if is_change(&event.kind) && lock(&seen).matches(&event.paths) => {
            let _ = changed.try_send(());
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "watching the config files"),
    })?;
    let mut watching = BTreeMap::new();
    follow(&mut watcher, &mut watching, &targets, &reloader.watched());
    let mut generations = reloader.generation.subscribe();
    Ok(TaskGuard::spawn(async move {
        loop {
            tokio::select! {
                change = changes.recv() => {
                    if change.is_none() {
                        return;
                    }
                    while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, changes.recv()).await {}
                    reloader.reload(Trigger::File).await;
                }
                generation = generations.changed() => {
                    if generation.is_err() {
                        return;
                    }
                }
            }
            generations.mark_unchanged();
            follow(&mut watcher, &mut watching, &targets, &reloader.watched());
        }
    }))
}

fn is_change(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any)
}

/// Watches what `files` needs and nothing else, and points `targets` at them.
fn follow(
    watcher: &mut RecommendedWatcher,
    watching: &mut BTreeMap<PathBuf, RecursiveMode>,
    targets: &Mutex<Targets>,
    files: &[Watched],
) {
    let mut wanted = BTreeMap::new();
    let mut next = Targets::default();
    for file in files {
        let (dir, mode) = match file {
            Watched::File(path) => {
                let Some(name) = path.file_name() else { continue };
                let Some(dir) = canonical(&super::base_dir_of(path)) else { continue };
                next.files.push(dir.join(name));
                (dir, RecursiveMode::NonRecursive)
            }
            Watched::Dir(path) => {
                let Some(dir) = canonical(path) else { continue };
                next.dirs.push(dir.clone());
                (dir, RecursiveMode::Recursive)
            }
        };
        let mode = match wanted.get(&dir) {
            Some(RecursiveMode::Recursive) => RecursiveMode::Recursive,
            _ => mode,
        };
        wanted.insert(dir, mode);
    }
    watching.retain(|dir, mode| {
        let keep = wanted.get(dir) == Some(mode);
        if !keep {
            let _ = watcher.unwatch(dir);
        }
        keep
    });
    for (dir, mode) in wanted {
        if watching.contains_key(&dir) {
            continue;
        }
        match watcher.watch(&dir, mode) {
            Ok(()) => {
                watching.insert(dir, mode);
            }
            Err(error) => tracing::warn!(dir = %dir.display(), %error, "cannot watch for config changes"),
        }
    }
    *lock(targets) = next;
}

fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path)
        .map_err(|error| tracing::warn!(path = %path.display(), %error, "cannot watch for config changes"))
        .ok()
}

fn lock(targets: &Mutex<Targets>) -> std::sync::MutexGuard<'_, Targets> {
    targets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
