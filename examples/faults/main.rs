//! The fault-injection harness as a command of its own (see
//! examples/faults/harness/mod.rs for what it does):
//!
//! ```text
//! cargo run --release --example faults -- --seconds 60
//! ```
//!
//! Prints what was sent, what succeeded and what failed by cause, and
//! exits with 1 when a promise broke.

mod harness;
#[path = "../../tests/it/support/redis.rs"]
#[allow(dead_code, reason = "the password variant is for the integration tests")]
mod redis;

use clap::Parser;

/// Runs the gateway under load while backends and Redis fail.
#[derive(Parser)]
struct Args {
    /// The whole run, in seconds (eight phases of an eighth each).
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let plan = harness::Plan { clients: args.clients, ..harness::Plan::for_seconds(args.seconds) };
    let report = harness::run(&plan).await;
    print!("{report}");
    let violations = report.violations();
    if violations.is_empty() {
        println!("every promise held");
    } else {
        for violation in &violations {
            println!("VIOLATION: {violation}");
        }
        std::process::exit(1);
    }
}
