//! Fault injection, short: the harness of `cargo run --example faults`
//! (examples/faults/harness/) for a few seconds. Kills, restarts, a slow,
//! a failing and a blackholed backend of each kind, Redis killed and back,
//! config reloads, and last SIGTERM (a real signal to this process, caught
//! by the gateway's handler), under steady load; every promise of the
//! harness must hold. Memory is
//! measured by the command only: this test shares its process with the
//! rest of the suite, whose tests grow it meanwhile.

#[path = "../../examples/faults/harness/mod.rs"]
mod harness;
use crate::support::redis;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_keeps_its_promises_while_backends_and_redis_fail_and_it_reloads_and_stops() {
    let report =
        harness::run(&harness::Plan { measure_memory: false, ..harness::Plan::for_seconds(8.0) }).await;
    eprintln!("{report}");
    assert!(report.succeeded.values().sum::<u64>() > 0, "{report}");
    let violations = report.violations();
    // The violations last: a CI log shows the tail of the output.
    assert!(violations.is_empty(), "{report}violations:\n{}", violations.join("\n"));
}
