//! The side-by-side benchmark: protogate against the backend called
//! directly, a floor forwarder (examples/floor.rs) and nginx, in one run on
//! one machine, so the ratios hold even when the machine is noisy.
//!
//! ```text
//! cargo run --release --example bench -- [--seconds N] [--repeat R] [--connections C] [--rate R] [--json out.json]
//! ```
//!
//! This process runs the backends and the load generator; each measured
//! program (protogate, the floor, nginx) runs as its own process, pinned to
//! another core when `taskset` can, so its CPU time and memory are its own.
//! The table shows CPU µs per request from /proc, which stays meaningful
//! when the load generator, not the gateway, is what saturates.

mod backend;
mod configs;
mod load;
mod memory;
mod process;
mod report;
mod scenarios;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use configs::{Backends, Workdir};
use process::Cores;
use report::Report;
use scenarios::{Bench, Binaries};

/// Measures protogate side by side with the backend, a floor forwarder and nginx.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds each scenario is measured (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Runs of every scenario, interleaved; the table shows medians.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Concurrent connections of the closed-loop scenarios.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Requests per second of the open-loop latency comparison.
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// Skip the memory and scale figures.
    #[arg(long)]
    no_memory: bool,
    /// Skip the load scenarios (memory and scale figures only).
    #[arg(long)]
    no_load: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binaries = build_binaries()?;
    let cores = Cores::detect();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if cores.load.is_some() {
        // One core for the load generator and the backends: one worker.
        runtime.worker_threads(1);
    }
    let runtime = runtime.enable_all().build()?;
    cores.pin_self()?;
    runtime.block_on(run(args, binaries, cores))
}

async fn run(args: Args, binaries: Binaries, cores: Cores) -> anyhow::Result<()> {
    let pinned = match (cores.measured, cores.load) {
        (Some(measured), Some(load)) => {
            format!("measured process on core {measured}, load and backends on core {load}")
        }
        _ => "not pinned (taskset or a second core is missing)".to_owned(),
    };
    println!("protogate bench: {pinned}");
    let backends = Backends { grpc: backend::start_grpc().await?, http: backend::start_http().await? };
    let bench = Bench {
        seconds: Duration::from_secs(args.seconds.max(1)),
        connections: args.connections.max(1),
        cores,
        binaries,
        backends,
        workdir: Workdir::create()?,
    };

    let (rows, open_loop) = if args.no_load {
        (Vec::new(), None)
    } else {
        let mut repeats = Vec::new();
        for _ in 0..args.repeat.max(1) {
            repeats.push(bench.closed_loop_rows().await?);
        }
        let mut open_loops = Vec::new();
        for _ in 0..args.repeat.max(1) {
            open_loops.push(bench.open_loop(args.rate).await?);
        }
        (report::median_rows(repeats), report::median_open_loop(open_loops))
    };
    let memory = if args.no_memory { None } else { Some(memory::measure(&bench).await?) };
    let mut report = Report {
        seconds: bench.seconds.as_secs(),
        repeats: args.repeat.max(1),
        connections: bench.connections,
        pinned,
        rows,
        open_loop,
        memory,
    };
    report.compare_to("floor forwarder GET");
    println!("\n{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut rows: Vec<_> = report.rows.iter().collect();
    if let Some(open) = &report.open_loop {
        rows.extend([&open.direct, &open.gateway]);
    }
    scenarios::check_clean(&rows)
}

/// Builds (if stale) and finds protogate and the floor forwarder next to
/// this example, and finds nginx if it is installed.
fn build_binaries() -> anyhow::Result<Binaries> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "protogate", "--example", "floor"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .context("cannot run cargo to build protogate and the floor forwarder")?;
    if !status.success() {
        bail!("cargo build failed: {status}");
    }
    let examples =
        std::env::current_exe()?.parent().map(Path::to_path_buf).context("the bench has no directory")?;
    let release = examples.parent().context("the bench is not in target/<profile>/examples")?;
    let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists());
    Ok(Binaries { protogate: release.join("protogate"), floor: examples.join("floor"), nginx })
}
