//! The `protogate` command: parses flags and calls the library.
//!
//! A failure is printed as one message (its causes after it, each once),
//! never with a backtrace: a mistake in a config is not a crash, whatever
//! `RUST_BACKTRACE` says.

use std::{
    io::IsTerminal,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use protogate::{
    admin,
    compile::{self, Compiled},
    config::Config,
    demo::{self, DemoBackend, DemoPage},
    reload::{ConfigSource, Reloader, Triggers},
    runtime::{self, RouteDiff},
    schema::DescriptorSource,
    server::{
        self, Shutdown,
        shutdown::{StopSignals, Stopped},
    },
};

/// A REST-to-gRPC API gateway that loads protobuf descriptors at run time.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the gateway described by a config file.
    Run {
        /// The YAML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Checks a config file and reports every problem in it.
    Validate {
        /// The YAML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Prints the route table of a config file, or explains which route a
    /// request would meet.
    Routes {
        /// The YAML config.
        #[arg(long, short)]
        config: PathBuf,
        /// A request to explain instead, `"GET /v1/shelves/1?x=1"`: the
        /// route it meets and why, its bindings, policies and upstream
        /// (nothing is called).
        #[arg(long, value_name = "REQUEST")]
        explain: Option<String>,
    },
    /// Prints the OpenAPI 3.1 document of a config's routes (JSON).
    Openapi {
        /// The YAML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Lists the routes a config adds, removes and changes against another
    /// (e.g. the one running), compiling both.
    Diff {
        /// The new YAML config.
        #[arg(long, short)]
        config: PathBuf,
        /// The config to compare it with.
        #[arg(long)]
        against: PathBuf,
    },
    /// Prints the SHA-256 of an API key, as `api_key.keys[].sha256` wants it.
    HashKey {
        /// The key; read from standard input when left out (out of the shell history).
        key: Option<String>,
    },
    /// Runs the built-in demo: a bookstore gRPC backend and the gateway in front of it.
    Demo {
        /// Where the gateway listens (port 0: any free port, printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where the demo's gRPC backend listens; the examples expect
        /// 127.0.0.1:50051 (default: any free loopback port, printed).
        #[arg(long, default_value = "127.0.0.1:0")]
        backend_listen: SocketAddr,
        /// Where the admin listener (and its page, at `/`) listens (port 0:
        /// any free port, printed; the page's "try it" form then needs a
        /// CORS policy of your own).
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin_listen: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // Diagnostics go to stderr, coloured only for a terminal: stdout is
    // what a command prints (`protogate routes | head`).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", report(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text
/// the message already carries (`cannot read x: No such file` is not
/// followed by `No such file` again).
fn report(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run { config } => {
            let reloader = Reloader::start(ConfigSource::File(config), Vec::new()).await?;
            Serving::start(reloader).await?.run().await;
            Ok(())
        }
        Command::Validate { config } => {
            let loaded = compile_file(&config).await?;
            let compiled = &loaded.compiled;
            let (routes, listeners) = (compiled.runtime.routes().len(), compiled.listeners.listeners.len());
            println!("{}: ok, {routes} routes, {listeners} listener(s){}", config.display(), loaded.note());
            Ok(())
        }
        Command::Routes { config, explain: Some(request) } => {
            let loaded = compile_file(&config).await?;
            print!("{}", protogate::explain::explain(&loaded.compiled.runtime, &request)?);
            Ok(())
        }
        Command::Routes { config, explain: None } => {
            let loaded = compile_file(&config).await?;
            print!("{}", runtime::routes_table(loaded.compiled.runtime.routes()));
            if loaded.no_descriptors {
                println!("# no descriptors: pass-through routes only");
            }
            Ok(())
        }
        Command::Openapi { config } => {
            let loaded = compile_file(&config).await?;
            println!("{}", String::from_utf8_lossy(&loaded.compiled.runtime.openapi().json));
            Ok(())
        }
        Command::Diff { config, against } => {
            let (new, old) = (compile_file(&config).await?, compile_file(&against).await?);
            print!("{}", RouteDiff::between(old.compiled.runtime.routes(), new.compiled.runtime.routes()));
            Ok(())
        }
        Command::HashKey { key } => {
            let key = match key {
                Some(key) => key,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("cannot read the key from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            if key.is_empty() {
                bail!("the key is empty: give a key (or write one on standard input)");
            }
            println!("{}", protogate::policy::auth::hash_key(&key));
            Ok(())
        }
        Command::Demo { listen, backend_listen, admin_listen } => {
            let backend = DemoBackend::start(backend_listen)
                .await
                .with_context(|| format!("cannot start the demo backend on {backend_listen}"))?;
            let page = DemoPage::start(SocketAddr::new(backend_listen.ip(), 0))
                .await
                .context("cannot start the demo's web page server")?;
            let config = demo::gateway_config(backend.addr(), Some(page.addr()), listen, Some(admin_listen));
            let builtin = [DescriptorSource::Embedded {
                name: "demo".into(),
                bytes: protogate::proto::DEMO_DESCRIPTOR_SET,
            }];
            let source = ConfigSource::Fixed { config: Box::new(config), base_dir: PathBuf::from(".") };
            let serving = Serving::start(Reloader::start(source, builtin.to_vec()).await?).await?;
            let gateway = serving.addr().context("the demo config has no listener")?;
            println!("{}", demo::welcome(gateway, backend.addr(), serving.admin_addr()));
            serving.run().await;
            Ok(())
        }
    }
}

/// A config file compiled.
struct Loaded {
    compiled: Compiled,
    /// It lists no descriptor source (valid when every route passes through).
    no_descriptors: bool,
}

impl Loaded {
    /// What `validate` adds after the route count.
    fn note(&self) -> &'static str {
        if self.no_descriptors { " (no descriptors: pass-through routes only)" } else { "" }
    }
}

async fn compile_file(path: &Path) -> anyhow::Result<Loaded> {
    let config = Config::from_file(path)?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    match compile::compile(&config, base_dir, &[]).await {
        Ok(compiled) => Ok(Loaded { compiled, no_descriptors: config.descriptors.is_empty() }),
        Err(errors) => bail!("{} has {} problem(s):\n{errors}", path.display(), errors.issues.len()),
    }
}

/// The gateway (its listeners and its admin listener) serving, and
/// reloading its config on SIGHUP, on a change of its files and on
/// `POST /reload`.
struct Serving {
    listeners: Vec<server::RunningServer>,
    admin: Option<admin::AdminServer>,
    shutdown: Shutdown,
    signals: StopSignals,
    _triggers: Triggers,
}

impl Serving {
    async fn start(reloader: Arc<Reloader>) -> anyhow::Result<Self> {
        // Listening to signals first: one that comes while starting is not missed.
        let signals = StopSignals::listen().context("cannot listen to SIGTERM and SIGINT")?;
        // Before "serving" is logged: from then on, SIGHUP reloads.
        let triggers = reloader.start_triggers().context("cannot watch the config files")?;
        let listeners = reloader.listeners();
        let gateway = reloader.gateway();
        let shutdown = Shutdown::new(listeners.shutdown);
        let admin = match listeners.admin_listen {
            Some(addr) => {
                let tls = listeners
                    .listeners
                    .iter()
                    .filter_map(|listener| Some((listener.addr, listener.tls.as_ref()?.stats().clone())))
                    .collect();
                let connections = listeners
                    .listeners
                    .iter()
                    .map(|listener| (listener.addr, listener.connections.clone()))
                    .collect();
                let options = admin::AdminOptions {
                    draining: shutdown.draining(),
                    token: listeners.admin_token,
                    reloader: Some(reloader.clone()),
                    metrics: reloader.metrics().cloned(),
                    tls,
                    connections,
                };
                let admin = admin::start(addr, gateway.clone(), options)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (admin)"))?;
                tracing::info!(addr = %admin.addr(), "the admin API is serving");
                Some(admin)
            }
            None => None,
        };
        let mut running = Vec::with_capacity(listeners.listeners.len());
        for listener in listeners.listeners.iter().cloned() {
            let (addr, tls) = (listener.addr, listener.tls.is_some());
            let server = server::start_listener(listener, listeners.head, gateway.clone())
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let generation = reloader.generation();
            tracing::info!(addr = %server.addr(), tls, generation, "protogate is serving");
            running.push(server);
        }
        Ok(Self { listeners: running, admin, shutdown, signals, _triggers: triggers })
    }

    /// Where the admin listener listens, if there is one.
    fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(admin::AdminServer::addr)
    }

    /// Where the first listener listens.
    fn addr(&self) -> Option<SocketAddr> {
        self.listeners.first().map(server::RunningServer::addr)
    }

    /// Serves until SIGTERM or SIGINT, then stops in phases
    /// (`server::shutdown`); a second signal exits at once, with 128 + its number.
    async fn run(self) {
        if let Stopped::Forced(signal) = self.shutdown.run(self.signals, self.listeners).await {
            std::process::exit(signal.exit_code());
        }
        if let Some(admin) = self.admin {
            admin.shutdown().await;
        }
    }
}
