//! The `protogate` command: parses flags and calls the library.

use std::{
    io::IsTerminal,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use protogate::{
    admin,
    compile::{self, Compiled},
    config::Config,
    demo::{self, DemoBackend},
    gateway::Gateway,
    runtime,
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
    /// Prints the route table of a config file.
    Routes {
        /// The YAML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Prints the SHA-256 of an API key, as `api_key.keys[].sha256` wants it.
    HashKey {
        /// The key; read from standard input when left out (out of the shell history).
        key: Option<String>,
    },
    /// Runs the built-in demo: a bookstore gRPC backend and the gateway in front of it.
    Demo {
        /// Where the gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Diagnostics go to stderr, coloured only for a terminal: stdout is
    // what a command prints (`protogate routes | head`).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Run { config } => serve(compile_file(&config).await?).await,
        Command::Validate { config } => {
            let compiled = compile_file(&config).await?;
            println!("{}: ok, {} routes", config.display(), compiled.runtime.routes().len());
            Ok(())
        }
        Command::Routes { config } => {
            print!("{}", runtime::routes_table(compile_file(&config).await?.runtime.routes()));
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
            println!("{}", protogate::policy::auth::hash_key(&key));
            Ok(())
        }
        Command::Demo { listen } => {
            let backend = DemoBackend::start(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .context("cannot start the demo backend")?;
            let config = demo::gateway_config(backend.addr(), listen);
            let builtin = [DescriptorSource::Embedded {
                name: "demo".into(),
                bytes: protogate::proto::DEMO_DESCRIPTOR_SET,
            }];
            let compiled = compile::compile(&config, Path::new("."), &builtin)
                .await
                .map_err(|errors| anyhow::anyhow!("{errors}"))?;
            println!("{}", demo::welcome(listen, backend.addr()));
            serve(compiled).await
        }
    }
}

async fn compile_file(path: &Path) -> anyhow::Result<Compiled> {
    let config = Config::from_file(path)?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    match compile::compile(&config, base_dir, &[]).await {
        Ok(compiled) => Ok(compiled),
        Err(errors) => bail!("{} has {} problem(s):\n{errors}", path.display(), errors.issues.len()),
    }
}

async fn serve(compiled: Compiled) -> anyhow::Result<()> {
    let Compiled { runtime, listeners } = compiled;
    let gateway = Arc::new(Gateway::new(runtime));
    // Listening to signals first: one that comes while starting is not missed.
    let signals = StopSignals::listen().context("cannot listen to SIGTERM and SIGINT")?;
    let shutdown = Shutdown::new(listeners.shutdown);
    let admin = match listeners.admin_listen {
        Some(addr) => {
            let options = admin::AdminOptions { draining: shutdown.draining(), token: listeners.admin_token };
            let admin = admin::start(addr, gateway.clone(), options)
                .await
                .with_context(|| format!("cannot listen on {addr} (admin)"))?;
            tracing::info!(addr = %admin.addr(), "the admin API is serving");
            Some(admin)
        }
        None => None,
    };
    let listen = listeners.listen;
    let running = server::start(listen, listeners.head, gateway)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %running.addr(), "protogate is serving");
    if let Stopped::Forced(signal) = shutdown.run(signals, vec![running]).await {
        std::process::exit(signal.exit_code());
    }
    if let Some(admin) = admin {
        admin.shutdown().await;
    }
    Ok(())
}
