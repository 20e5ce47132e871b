//! The `protogate` binary's config commands: `validate` reports every
//! problem with its place, `routes` prints the table; and the example
//! config of the README compiles.

use std::{fs, path::Path, process::Command};

pub(crate) fn protogate(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_protogate")).args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Fails naming the first of `expected` that `text` lacks.
pub(crate) fn assert_reports(text: &str, expected: &[&str]) {
    for expected in expected {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

pub(crate) const DEMO_PB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/descriptors/demo.pb");

#[test]
fn the_readme_example_validates() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gateway.yaml");
    let (ok, text) = protogate(&["validate", "--config", example]);
    assert!(ok, "{text}");
    assert!(text.contains("ok, 13 routes"), "{text}");
}

#[test]
fn validate_reports_every_problem_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "gw.yaml",
        &format!(
            r#"
listen: "not an address"
descriptors: [{{ file: {DEMO_PB} }}]
upstreams:
  library: {{ endpoints: ["http://127.0.0.1:50051"] }}
  broken: {{ endpoints: ["ftp://127.0.0.1:1"] }}
routes:
  - grpc: {{ service: demo.v1.Library, upstream: libary }}
  - grpc: {{ service: demo.v1.Libary, upstream: library }}
  - grpc: {{ service: demo.v1.Echo, upstream: library, methods: [Echoo] }}
"#
        ),
    );
    let (ok, text) = protogate(&["validate", "--config", &config]);
    assert!(!ok);
    assert_reports(
        &text,
        &[
            "listen: \"not an address\"",
            "upstreams.broken.endpoints[0]: invalid endpoint \"ftp://127.0.0.1:1\"",
            "routes[0].grpc.upstream: unknown upstream \"libary\" (did you mean \"library\"?)",
            "routes[1].grpc.service: unknown service \"demo.v1.Libary\" (did you mean \"demo.v1.Library\"?)",
            "routes[2].grpc.methods[0]: unknown method \"Echoo\" (did you mean \"Echo\"?)",
        ],
    );
}

#[test]
fn a_typo_in_a_key_is_a_parse_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "gw.yaml", "listen: 127.0.0.1:1\nroutez: []\n");
    let (ok, text) = protogate(&["validate", "--config", &config]);
    assert!(!ok);
    assert!(text.contains("gw.yaml") && text.contains("routez"), "{text}");
}

#[test]
fn bad_templates_and_duplicate_bindings_name_the_method_and_position() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "protos/bad/v1/bad.proto",
        r#"syntax = "proto3";
package bad.v1;
import "google/api/annotations.proto";
service Bad {
  rpc Broken(M) returns (M) { option (google.api.http) = { get: "/v1/{name=a/**/*}" }; }
}
service Twice {
  rpc First(M) returns (M) { option (google.api.http) = { get: "/v1/things/{name}" }; }
  rpc Second(M) returns (M) { option (google.api.http) = { get: "/v1/things/{name}" }; }
}
message M { string name = 1; }
"#,
    );
    let config = write(
        dir.path(),
        "gw.yaml",
        r#"
descriptors: [{ proto: protos }]
upstreams: { u: { endpoints: ["http://127.0.0.1:1"] } }
routes:
  - grpc: { service: bad.v1.Bad, upstream: u }
  - grpc: { service: bad.v1.Twice, upstream: u }
"#,
    );
    let (ok, text) = protogate(&["validate", "--config", &config]);
    assert!(!ok);
    assert!(text.contains("routes[0].grpc.service: bad.v1.Bad.Broken: invalid path template"), "{text}");
    assert!(text.contains("at position"), "{text}");
    assert!(
        text.contains("routes[1].grpc.service: GET /v1/things/{name} is bound twice: by bad.v1.Twice.First and by bad.v1.Twice.Second"),
        "{text}"
    );
}

#[test]
fn routes_prints_the_table() {
    let (ok, text) =
        protogate(&["routes", "--config", concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gateway.yaml")]);
    assert!(ok, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("METHOD"), "{text}");
    let patch = lines.iter().find(|l| l.starts_with("PATCH")).unwrap();
    let cells: Vec<&str> = patch.split_whitespace().collect();
    assert_eq!(
        cells,
        ["PATCH", "/v1/shelves/{shelf}/books/{book.id}", "demo.v1.Library.UpdateBook", "book", "library"]
    );
}

#[test]
fn proto_sources_and_descriptor_sets_merge_and_disagreements_fail() {
    let dir = tempfile::tempdir().unwrap();
    let proto_root = concat!(env!("CARGO_MANIFEST_DIR"), "/proto");
    let same = write(
        dir.path(),
        "same.yaml",
        &format!(
            "descriptors: [{{ file: {DEMO_PB} }}, {{ proto: {proto_root} }}]\nupstreams: {{ u: {{ endpoints: [\"http://127.0.0.1:1\"] }} }}\nroutes: [{{ grpc: {{ service: demo.v1.Library, upstream: u }} }}]\n"
        ),
    );
    let (ok, text) = protogate(&["validate", "--config", &same]);
    assert!(ok, "{text}");

    write(
        dir.path(),
        "other/demo/v1/library.proto",
        "syntax = \"proto3\";\npackage demo.v1;\nmessage Other {}\n",
    );
    let conflict = write(
        dir.path(),
        "conflict.yaml",
        &format!(
            "descriptors: [{{ file: {DEMO_PB} }}, {{ proto: other }}]\nupstreams: {{ u: {{ endpoints: [\"http://127.0.0.1:1\"] }} }}\nroutes: [{{ grpc: {{ service: demo.v1.Library, upstream: u }} }}]\n"
        ),
    );
    let (ok, text) = protogate(&["validate", "--config", &conflict]);
    assert!(!ok);
    assert!(text.contains("demo/v1/library.proto differs between file"), "{text}");
}

#[test]
fn limits_durations_headers_and_endpoints_are_checked_with_their_places() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "gw.yaml",
        &format!(
            r#"
descriptors: [{{ file: {DEMO_PB} }}]
upstreams:
  u: {{ endpoints: ["http://127.0.0.1:1", "127.0.0.1:2", "ftp://x"], connect_timeout: 0s }}
routes:
  - grpc: {{ service: demo.v1.Library, upstream: u }}
    timeout: 48h
  - grpc: {{ service: demo.v1.Echo, upstream: u, methods: [Echo, Unannotated] }}
transcoding: {{ forward_headers: [x-ok, host, grpc-timeout, "bad header"] }}
limits: {{ body_read_timeout: 0s, max_concurrent_streams: 0 }}
"#
        ),
    );
    let (ok, text) = protogate(&["validate", "--config", &config]);
    assert!(!ok);
    assert_reports(
        &text,
        &[
            "upstreams.u.endpoints[1]: invalid endpoint \"127.0.0.1:2\"",
            "upstreams.u.endpoints[2]: invalid endpoint \"ftp://x\"",
            "upstreams.u.connect_timeout: must be longer than 0",
            "routes[0].timeout: 172800s is longer than the longest allowed, 24h",
            "routes[1].grpc.methods[1]: demo.v1.Echo.Unannotated has no google.api.http annotation",
            "transcoding.forward_headers[1]: \"host\" cannot be forwarded",
            "transcoding.forward_headers[2]: \"grpc-timeout\" cannot be forwarded",
            "transcoding.forward_headers[3]: \"bad header\" is not a header name",
            "limits.body_read_timeout: must be longer than 0",
            "limits.max_concurrent_streams: must be at least 1",
        ],
    );
    assert!(!text.contains("x-ok"), "{text}");
}

#[test]
fn a_duration_that_overflows_is_a_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "gw.yaml", "limits: { header_read_timeout: 99999999999999999h }\n");
    let (ok, text) = protogate(&["validate", "--config", &config]);
    assert!(!ok);
    assert!(text.contains("invalid duration"), "{text}");
}

#[test]
fn a_service_without_annotations_is_reported_beside_other_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "protos/plain.proto",
        "syntax = \"proto3\";\npackage plain;\nservice Plain { rpc Do(M) returns (M); }\nmessage M {}\n",
    );
    let config = write(
        dir.path(),
        "gw.yaml",
        r#"
descriptors: [{ proto: protos }]
upstreams: { u: { endpoints: ["http://127.0.0.1:1"] } }
routes:
  - grpc: { service: plain.Plain, upstream: nope }
  - grpc: { service: plain.Plain, upstream: u }
"#,
    );
    let (ok, text) = protogate(&["validate", "--config", &config]);
    assert!(!ok);
    assert!(text.contains("routes[0].grpc.upstream: unknown upstream \"nope\""), "{text}");
    assert!(
        text.contains("routes[1].grpc.service: plain.Plain has no method with a google.api.http annotation"),
        "{text}"
    );
}

#[test]
fn the_edge_example_validates() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/edge.yaml");
    let (ok, text) = protogate(&["validate", "--config", example]);
    assert!(ok, "{text}");
}

/// Runs the binary with `RUST_BACKTRACE=1` in its environment (as on many
/// developer machines) and `stdin` as its standard input.
fn protogate_backtrace(args: &[&str], stdin: &[u8]) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_protogate"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn a_config_error_is_one_message_without_a_backtrace_even_with_rust_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml").display().to_string();
    let (ok, text) = protogate_backtrace(&["validate", "--config", &missing], b"");
    assert!(!ok);
    assert_eq!(text.matches("No such file").count(), 1, "the cause is printed once:\n{text}");
    assert!(text.contains("missing.yaml"), "{text}");
    let config = write(dir.path(), "gw.yaml", "routez: []\n");
    for config in [&missing, &config] {
        let (ok, text) = protogate_backtrace(&["validate", "--config", config], b"");
        assert!(!ok);
        assert!(!text.to_lowercase().contains("backtrace"), "{text}");
        assert!(
            !text.contains("Caused by") && !text.contains("main.rs"),
            "a message, not a crash report:\n{text}"
        );
    }
}

#[test]
fn hash_key_refuses_an_empty_key() {
    let (ok, text) = protogate_backtrace(&["hash-key", ""], b"");
    assert!(!ok && text.contains("empty"), "{text}");
    let (ok, text) = protogate_backtrace(&["hash-key"], b"");
    assert!(!ok && text.contains("empty"), "{text}");
    let (ok, text) = protogate_backtrace(&["hash-key"], b"\n");
    assert!(!ok && text.contains("empty"), "{text}");
    let (ok, text) = protogate_backtrace(&["hash-key"], b"s3cret\n");
    assert!(ok, "{text}");
    assert_eq!(text.trim(), "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0");
}
