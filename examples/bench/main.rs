//! The side-by-side benchmark: protogate against the backend called
//! directly, a floor forwarder (examples/floor.rs) and nginx, in one run on
//! one machine, so the ratios hold even when the machine is noisy.
//!
//! ```text
//! cargo run --release --example bench -- [--seconds N] [--repeat R] [--connections C] [--rate R]
//!     [--only core,open,obs,tls,reload,stream,memory] [--json out.json]
//! ```
//!
//! This process runs the backends and the load generator; each measured
//! program (protogate, the floor, nginx) runs as its own process, pinned to
//! another core when `taskset` can, so its CPU time and memory are its own.
//! The table shows CPU µs per request from /proc, which stays meaningful
//! when the load generator, not the gateway, is what saturates.
//! Besides the closed- and open-loop rows: what metrics, the access log and
//! TLS cost (costs.rs, targets.rs), a reload of 11 000 routes under load
//! (reload.rs), streams through each framing (streams.rs) and memory
//! (memory.rs); `--only` picks among them.

mod backend;
mod configs;
mod costs;
mod load;
mod memory;
mod process;
mod reload;
mod report;
mod scale;
mod scenarios;
mod stream_load;
mod streams;
mod targets;
mod tls;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};

use configs::{Backends, Workdir};
use process::Cores;
use report::Report;
use scenarios::{Bench, Binaries, Part};

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
    /// Run only these parts (comma-separated; all by default).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
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
        parts: parts_of(&args),
    };
    let repeats = args.repeat.max(1);

    let mut closed_loops = Vec::new();
    if [Part::Core, Part::Obs, Part::Tls].into_iter().any(|part| bench.runs(part)) {
        for _ in 0..repeats {
            closed_loops.push(bench.closed_loop_rows().await?);
        }
    }
    let comparisons = targets::compare(&closed_loops);
    let mut open_loops = Vec::new();
    if bench.runs(Part::Open) {
        for _ in 0..repeats {
            open_loops.push(bench.open_loop(args.rate).await?);
        }
    }
    let reload =
        if bench.runs(Part::Reload) { Some(bench.reload_under_load(args.rate).await?) } else { None };
    let streams = if bench.runs(Part::Stream) { Some(bench.streams().await?) } else { None };
    let memory = if bench.runs(Part::Memory) { Some(memory::measure(&bench).await?) } else { None };
    let mut report = Report {
        seconds: bench.seconds.as_secs(),
        repeats,
        connections: bench.connections,
        pinned,
        rows: report::median_rows(closed_loops),
        comparisons,
        open_loop: report::median_open_loop(open_loops),
        memory,
        reload,
        streams,
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
    if let Some(reload) = &report.reload {
        rows.extend([&reload.quiet, &reload.reloading]);
    }
    scenarios::check_clean(&rows)
}

/// The parts `--only`, `--no-memory` and `--no-load` leave.
fn parts_of(args: &Args) -> Vec<Part> {
    let mut parts = if args.only.is_empty() { Part::value_variants().to_vec() } else { args.only.clone() };
    if args.no_memory {
        parts.retain(|part| *part != Part::Memory);
    }
    if args.no_load {
        parts.retain(|part| *part == Part::Memory);
    }
    parts
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
