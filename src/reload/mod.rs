//! Hot reload: a new [`Runtime`] compiled beside the running one and
//! swapped in whole, keeping the state of whatever did not change.
//!
//! A [`Reloader`] owns the gateway's config source. Each reload (the config
//! file or a descriptor changed, SIGHUP, `POST /reload` on the admin
//! listener, a reflection source's upstream giving new descriptors) reads the config again and compiles it with the running
//! runtime's [`crate::runtime::StateStore`], so unchanged upstreams and
//! stateful policies carry over; then [`Gateway::replace`] swaps it in, and
//! requests in flight finish on the old one. Reloads run one at a time.
//!
//! A config that fails to parse or compile, or that changes what the
//! listeners and observers were started with (`listen`, `admin.listen`,
//! the admin token, the head limits, the shutdown timings, metrics and the
//! access log: a restart is needed for those), is never swapped in: the old one keeps
//! serving, every error is logged with its place and kept for `/config`.
//! Each config swapped in gets the next generation number (the first is 1).
//! What a reload changes under clients (routes removed or changed, message
//! fields removed or retyped) is logged as breaking, and refused with
//! `reload.refuse_breaking`.
//!
//! This room decides when and whether to swap; it serves no request and
//! binds no listener.

mod refresh;
mod report;
mod watch;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use serde_json::{Value, json};
use tokio::sync::watch as signal;

pub use report::{ReloadReport, ReloadResult, Trigger};

use crate::{
    compile::{self, CompileErrors, Compiled},
    config::{self, Config, ConfigError},
    gateway::Gateway,
    observe::{Observers, TracingObserver, access_log::AccessLog, metrics::Metrics},
    openapi,
    runtime::{RouteDiff, Runtime},
    schema::DescriptorSource,
    server::{ListenerChange, ListenerSettings},
    task::{TaskGuard, off_workers},
};
use watch::Watched;

/// Where the gateway's config comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A YAML file, read again at each reload; relative paths in it are
    /// taken from its directory.
    File(PathBuf),
    /// A config built in code (the demo): a reload compiles it again.
    Fixed {
        /// The config.
        config: Box<Config>,
        /// Where its relative paths are taken from.
        base_dir: PathBuf,
    },
}

/// A config that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It cannot be read or parsed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// It does not compile.
    #[error("{origin} has {} problem(s):\n{errors}", errors.issues.len())]
    Compile {
        /// The file (or "built-in config").
        origin: String,
        /// Every problem, with its place.
        errors: CompileErrors,
    },
    /// It changes what the listeners were started with.
    #[error("{}", restart_needed(.0))]
    Listeners(Vec<ListenerChange>),
    /// The access log (`access_log.path`) cannot be opened.
    #[error("cannot open the access log {path} (access_log.path): {source}")]
    AccessLog {
        /// The file, or "standard output".
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn restart_needed(changes: &[ListenerChange]) -> String {
    let lines: Vec<String> = changes.iter().map(|change| format!("{change}: restart needed")).collect();
    lines.join("\n")
}

impl LoadError {
    /// One line per problem, each with its place.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Compile { origin, errors } => errors
                .issues
                .iter()
                .map(|issue| format!("{origin}: {}: {}", issue.place, issue.message))
                .collect(),
            other => other.to_string().lines().map(str::to_owned).collect(),
        }
    }
}

/// The gateway's config, loaded and reloaded. Shared as an `Arc` by the
/// triggers and the admin API.
#[derive(Debug)]
pub struct Reloader {
    source: ConfigSource,
    builtin: Vec<DescriptorSource>,
    gateway: Arc<Gateway>,
    /// The gateway's metrics, when collected.
    metrics: Option<Arc<Metrics>>,
    /// What the listeners were started with (a reload may not change it).
    listeners: ListenerSettings,
    /// Held for the whole of a reload: one at a time.
    serial: tokio::sync::Mutex<()>,
    shown: Mutex<Shown>,
    /// The generation serving now; the watcher follows it to watch the
    /// files of the current config.
    generation: signal::Sender<u64>,
    succeeded: AtomicU64,
    failed: AtomicU64,
}

/// What `/config` shows besides the counters.
#[derive(Debug)]
struct Shown {
    /// The running config, redacted (`None` for a config built in code).
    config: Option<Value>,
    /// The files the running config is read from.
    watched: Vec<Watched>,
    last: Option<ReloadReport>,
}

/// A config read and compiled, not yet serving.
struct Loaded {
    compiled: Compiled,
    shown: Option<Value>,
    watched: Vec<Watched>,
    /// `reload.refuse_breaking` of the new config.
    refuse_breaking: bool,
}

impl Reloader {
    /// Loads and compiles the config of `source` (generation 1) and makes
    /// the gateway that serves it. `builtin` descriptor sources are loaded
    /// before the config's own at every load.
    pub async fn start(source: ConfigSource, builtin: Vec<DescriptorSource>) -> Result<Arc<Self>, LoadError> {
        let Loaded { compiled, shown, watched, .. } = load(&source, &builtin, None).await?;
        tracing::info!(generation = 1, routes = compiled.runtime.routes().len(), "config loaded");
        let settings = &compiled.listeners.observe;
        let metrics = settings.metrics.then(Metrics::new);
        let mut observers = Observers::new().with(Arc::new(TracingObserver));
        if let Some(metrics) = &metrics {
            observers = observers.with(metrics.clone());
        }
        if let Some(log) = &settings.access_log {
            let access_log = AccessLog::start(log).map_err(|source| LoadError::AccessLog {
                path: log
                    .path
                    .as_ref()
                    .map_or_else(|| "standard output".into(), |path| path.display().to_string()),
                source,
            })?;
            observers = observers.with(Arc::new(access_log));
        }
        #[cfg(feature = "otlp")]
        if let Some(otlp) = &settings.otlp {
            observers = observers.with(Arc::new(crate::observe::otlp::OtlpExporter::start(otlp)));
        }
        Ok(Arc::new(Self {
            source,
            builtin,
            gateway: Arc::new(Gateway::with_observer(compiled.runtime, Arc::new(observers))),
            metrics,
            listeners: compiled.listeners,
            serial: tokio::sync::Mutex::new(()),
            shown: Mutex::new(Shown { config: shown, watched, last: None }),
            generation: signal::Sender::new(1),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }))
    }

    /// The gateway, serving the current config.
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// The gateway's metrics, when the config collects them.
    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    /// What the listeners are to be started with.
    pub fn listeners(&self) -> &ListenerSettings {
        &self.listeners
    }

    /// The generation of the config serving now (1 at start, +1 per reload
    /// swapped in).
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Reloads swapped in so far.
    pub fn reloads_succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    /// Reloads refused so far (the old config kept serving).
    pub fn reloads_failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Reads and compiles the config again and swaps it in, or refuses it
    /// and keeps the running one.
    pub async fn reload(&self, trigger: Trigger) -> ReloadReport {
        self.run(trigger, false).await
    }

    /// What a reload would do now (the routes it would add, remove and
    /// change, or why it would be refused), swapping nothing.
    pub async fn dry_run(&self, trigger: Trigger) -> ReloadReport {
        self.run(trigger, true).await
    }

    async fn run(&self, trigger: Trigger, dry_run: bool) -> ReloadReport {
        let _one_at_a_time = self.serial.lock().await;
        let current = self.gateway.runtime();
        let generation = self.generation();
        let loaded = load(&self.source, &self.builtin, Some(&current)).await.and_then(|loaded| {
            let changes = self.listeners.changes(&loaded.compiled.listeners);
            if changes.is_empty() { Ok(loaded) } else { Err(LoadError::Listeners(changes)) }
        });
        // What `status` shows of a swapped config: set with the generation.
        let mut swapped = None;
        let report = match loaded {
            Err(error) => {
                let errors = error.lines();
                for error in &errors {
                    tracing::error!(generation, %trigger, dry_run, "reload refused: {error}");
                }
                ReloadReport::new(
                    trigger,
                    dry_run,
                    ReloadResult::Failed,
                    generation,
                    errors,
                    RouteDiff::default(),
                )
            }
            Ok(loaded) => {
                // Comparing 10 000 routes and two OpenAPI documents is CPU
                // work too: off the request workers as well.
                let (routes, breaking, loaded) = off_workers(move || {
                    let routes = RouteDiff::between(current.routes(), loaded.compiled.runtime.routes());
                    let breaking = breaking_changes(&routes, &current, &loaded.compiled.runtime);
                    (routes, breaking, loaded)
                })
                .await;
                let Loaded { compiled, shown, watched, refuse_breaking } = loaded;
                for change in &breaking {
                    tracing::warn!(generation, %trigger, dry_run, "breaking change: {change}");
                }
                if refuse_breaking && !breaking.is_empty() {
                    let errors: Vec<String> =
                        breaking.iter().map(|change| format!("reload.refuse_breaking: {change}")).collect();
                    tracing::error!(generation, %trigger, dry_run, "reload refused: it breaks clients");
                    ReloadReport::new(trigger, dry_run, ReloadResult::Failed, generation, errors, routes)
                } else if dry_run {
                    ReloadReport::new(trigger, true, ReloadResult::Ok, generation, Vec::new(), routes)
                } else {
                    self.gateway.replace(compiled.runtime);
                    let generation = generation + 1;
                    let (added, removed, changed) =
                        (routes.added.len(), routes.removed.len(), routes.changed.len());
                    tracing::info!(generation, %trigger, added, removed, changed, "config reloaded");
                    swapped = Some((shown, watched));
                    ReloadReport::new(trigger, false, ReloadResult::Ok, generation, Vec::new(), routes)
                }
                .with_breaking(breaking)
            }
        };
        if !dry_run {
            // One step under the lock `status` reads with: a reader never
            // sees the new generation without its report, config and counts.
            let mut shown_now = self.lock_shown();
            let counter = if report.result == ReloadResult::Ok { &self.succeeded } else { &self.failed };
            counter.fetch_add(1, Ordering::Relaxed);
            shown_now.last = Some(report.clone());
            if let Some((shown, watched)) = swapped {
                shown_now.config = shown;
                shown_now.watched = watched;
                self.generation.send_replace(report.generation);
            }
        }
        report
    }

    /// The running config (secrets redacted), its generation, the reload
    /// counters and the last reload, for the admin API.
    pub fn status(&self) -> Value {
        let shown = self.lock_shown();
        let source = match &self.source {
            ConfigSource::File(path) => path.display().to_string(),
            ConfigSource::Fixed { .. } => "built-in config".to_owned(),
        };
        json!({
            "generation": self.generation(),
            "source": source,
            "config": shown.config,
            "reloads": { "succeeded": self.reloads_succeeded(), "failed": self.reloads_failed() },
            "last_reload": shown.last,
        })
    }

    /// Starts the triggers: SIGHUP, a watch on the config file and on
    /// every descriptor file and `.proto` directory it names, and the
    /// periodic refresh of its reflection sources. They stop when the
    /// returned value is dropped.
    pub fn start_triggers(self: &Arc<Self>) -> Result<Triggers, notify::Error> {
        let watcher = match self.source {
            ConfigSource::File(_) => Some(watch::start(self.clone())?),
            ConfigSource::Fixed { .. } => None,
        };
        Ok(Triggers {
            _watcher: watcher,
            _hangup: hangup(self.clone()),
            _reflection: refresh::start(self.clone()),
        })
    }

    fn watched(&self) -> Vec<Watched> {
        self.lock_shown().watched.clone()
    }

    fn lock_shown(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The running triggers of a [`Reloader`]; dropping it stops them.
#[derive(Debug)]
pub struct Triggers {
    _watcher: Option<TaskGuard>,
    _hangup: Option<TaskGuard>,
    _reflection: TaskGuard,
}

/// SIGHUP reloads (on Unix; `None` where there is no such signal).
fn hangup(reloader: Arc<Reloader>) -> Option<TaskGuard> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())
            .map_err(|error| tracing::warn!(%error, "SIGHUP will not reload: cannot listen for it"))
            .ok()?;
        Some(TaskGuard::spawn(async move {
            while hangups.recv().await.is_some() {
                reloader.reload(Trigger::Signal).await;
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = reloader;
        None
    }
}

/// Reads and compiles the config of `source`, keeping what `running`
/// has that did not change. Reading and parsing the file, like the
/// compile's CPU work, runs off the request workers.
async fn load(
    source: &ConfigSource,
    builtin: &[DescriptorSource],
    running: Option<&Runtime>,
) -> Result<Loaded, LoadError> {
    let kept = running.map(Runtime::store);
    let read = source.clone();
    let Read { config, shown, base_dir, origin } = off_workers(move || read.read()).await?;
    let compiled = compile::compile_keeping(&config, &base_dir, builtin, kept)
        .await
        .map_err(|errors| LoadError::Compile { origin, errors })?;
    let watched = match source {
        ConfigSource::File(path) => watch::files_of(path, &config, &base_dir),
        ConfigSource::Fixed { .. } => Vec::new(),
    };
    Ok(Loaded { compiled, shown, watched, refuse_breaking: config.reload.refuse_breaking })
}

/// A config as read from its source, not yet compiled.
struct Read {
    config: Config,
    /// The config redacted, for `/config` (`None` for a config built in code).
    shown: Option<Value>,
    /// Where its relative paths are taken from.
    base_dir: PathBuf,
    /// The file, or "built-in config".
    origin: String,
}

impl ConfigSource {
    /// Reads and parses the config.
    fn read(&self) -> Result<Read, ConfigError> {
        match self {
            Self::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                let origin = path.display().to_string();
                let config = Config::from_yaml(&text, &origin)?;
                let shown = config::redacted(&text, &origin)?;
                Ok(Read { config, shown: Some(shown), base_dir: base_dir_of(path), origin })
            }
            Self::Fixed { config, base_dir } => Ok(Read {
                config: (**config).clone(),
                shown: None,
                base_dir: base_dir.clone(),
                origin: "built-in config".to_owned(),
            }),
        }
    }
}

/// What `after` changes under the clients of `before`: routes removed, or
/// calling another method with another body or reply field; message fields
/// removed or retyped (from the OpenAPI documents).
fn breaking_changes(routes: &RouteDiff, before: &Runtime, after: &Runtime) -> Vec<String> {
    let removed = routes
        .removed
        .iter()
        .map(|route| format!("route {} {} ({}) is removed", route.method, route.template, route.target));
    let changed = routes
        .changed
        .iter()
        .filter(|change| {
            let (a, b) = (&change.before, &change.after);
            (&a.target, &a.body, &a.response_body) != (&b.target, &b.body, &b.response_body)
        })
        .map(|change| {
            let (a, b) = (&change.before, &change.after);
            format!(
                "route {} {} changes: {} body {:?} reply {:?} → {} body {:?} reply {:?}",
                a.method, a.template, a.target, a.body, a.response_body, b.target, b.body, b.response_body
            )
        });
    removed
        .chain(changed)
        .chain(openapi::changed_fields(&before.openapi().json, &after.openapi().json))
        .collect()
}

/// The directory a config file's relative paths are taken from.
pub fn base_dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
