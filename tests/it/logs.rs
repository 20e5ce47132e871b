//! Diagnostic logs go to stderr, and carry no ANSI colour codes when
//! stderr is not a terminal: what a command prints on stdout stays
//! clean when piped (`protogate routes | head`).

use std::{
    io::Read,
    process::{Command, Stdio},
    time::Duration,
};

use crate::support::binary::{Protogate, write_config};

const ESCAPE: char = '\u{1b}';

/// A config whose compiling logs a warning: a host name that does not resolve.
const UNRESOLVED: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: DEMO_PB }]
upstreams: { u: { endpoints: ["http://no-such-host.invalid:1"] } }
routes: [{ grpc: { service: demo.v1.Library, upstream: u } }]
"#;

fn unresolved() -> String {
    UNRESOLVED.replace("DEMO_PB", concat!(env!("CARGO_MANIFEST_DIR"), "/descriptors/demo.pb"))
}

#[test]
fn routes_piped_prints_the_table_alone_and_logs_on_stderr_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, &unresolved());
    let output = Command::new(env!("CARGO_BIN_EXE_protogate"))
        .args(["routes", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("METHOD"), "stdout is not the table alone:\n{stdout}");
    assert!(!stdout.contains("WARN") && !stdout.contains(ESCAPE), "a log line on stdout:\n{stdout}");
    assert!(stderr.contains("WARN") && stderr.contains("cannot resolve"), "no warning on stderr:\n{stderr}");
    assert!(!stderr.contains(ESCAPE), "colour codes in a piped stderr:\n{stderr:?}");
}

#[test]
fn run_logs_on_stderr_without_colour_and_leaves_stdout_empty() {
    let mut protogate = Protogate::run(&unresolved());
    let addr = protogate.addr_logged("protogate is serving");
    let serving = protogate.wait_for_log("protogate is serving", Duration::ZERO);
    assert!(serving.contains("INFO") && !serving.contains(ESCAPE), "{serving:?}");
    assert!(std::net::TcpStream::connect(addr).is_ok(), "nothing listens on the logged {addr}");
    protogate.signal("TERM");
    let status = protogate.exit_within(Duration::from_secs(20));
    assert!(status.is_some(), "still running 20 s after SIGTERM");
    let mut stdout = String::new();
    protogate.stdout().read_to_string(&mut stdout).unwrap();
    assert_eq!(stdout, "", "run printed on stdout");
}
