//! `protogate validate` (and `routes`) on configs with mistakes in them:
//! each problem reported with its place, as precisely as the parser or
//! protox knows it, and no problem hiding the others.

use super::cli::{DEMO_PB, assert_reports, protogate, write};

/// Writes `files` (path, text) into a fresh directory and runs `protogate
/// <command> --config <dir>/gw.yaml`.
fn run(command: &str, files: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    let config = dir.path().join("gw.yaml").display().to_string();
    protogate(&[command, "--config", &config])
}

#[test]
fn endpoint_ports_are_checked_with_their_places() {
    let yaml = format!(
        r#"
descriptors: [{{ file: {DEMO_PB} }}]
upstreams:
  u: {{ endpoints: ["http://127.0.0.1:99999", "http://127.0.0.1:0", "http://127.0.0.1:50051"] }}
routes: [{{ grpc: {{ service: demo.v1.Library, upstream: u }} }}]
"#
    );
    let (ok, text) = run("validate", &[("gw.yaml", &yaml)]);
    assert!(!ok, "{text}");
    assert_reports(
        &text,
        &[
            "upstreams.u.endpoints[0]: invalid endpoint \"http://127.0.0.1:99999\": port 99999 is out of range (1 to 65535)",
            "upstreams.u.endpoints[1]: invalid endpoint \"http://127.0.0.1:0\": port 0 is out of range (1 to 65535)",
        ],
    );
    assert!(!text.contains("endpoints[2]"), "{text}");
}

#[test]
fn a_gateway_of_pass_through_routes_needs_no_descriptors() {
    let yaml = r#"
descriptors: []
upstreams: { legacy: { protocol: http, endpoints: ["http://127.0.0.1:8081"] } }
routes: [{ http: { prefix: /legacy/, upstream: legacy } }]
"#;
    let (ok, text) = run("validate", &[("gw.yaml", yaml)]);
    assert!(ok, "{text}");
    assert!(text.contains("ok, 1 routes") && text.contains("no descriptors"), "{text}");
    let (ok, text) = run("routes", &[("gw.yaml", yaml)]);
    assert!(ok, "{text}");
    assert!(text.contains("/legacy/") && text.contains("no descriptors: pass-through routes only"), "{text}");

    // A grpc route does need them, and says so.
    let yaml = r#"
upstreams: { u: { endpoints: ["http://127.0.0.1:1"] } }
routes: [{ grpc: { service: demo.v1.Library, upstream: u } }]
"#;
    let (ok, text) = run("validate", &[("gw.yaml", yaml)]);
    assert!(!ok);
    assert!(text.contains("routes[0].grpc.service: unknown service \"demo.v1.Library\""), "{text}");
    assert!(text.contains("no descriptors"), "{text}");
}

#[test]
fn proto_errors_name_the_file_line_and_column() {
    let proto = "syntax = \"proto3\";\npackage notes.v1;\n\nmessage Note {\n  string title = 1\n}\n";
    let yaml =
        "descriptors: [{ proto: protos }]\nupstreams: { u: { endpoints: [\"http://127.0.0.1:1\"] } }\n";
    let (ok, text) = run("validate", &[("protos/notes/v1/notes.proto", proto), ("gw.yaml", yaml)]);
    assert!(!ok);
    assert!(text.contains("notes/v1/notes.proto:6:1: expected ';'"), "{text}");
}

#[test]
fn a_failed_descriptor_source_does_not_hide_the_other_problems() {
    let yaml = r#"
listen: 127.0.0.1:99999
descriptors: [{ file: missing.pb }]
upstreams: { library: { endpoints: ["http://127.0.0.1:50051"] } }
routes:
  - grpc: { service: demo.v1.Library, upstream: libary }
    timeout: 0s
  - http: { prefix: /legacy/, upstream: library }
"#;
    let (ok, text) = run("validate", &[("gw.yaml", yaml)]);
    assert!(!ok);
    assert_reports(
        &text,
        &[
            "listen: \"127.0.0.1:99999\"",
            "descriptors[0]: cannot read",
            "routes[0].grpc.upstream: unknown upstream \"libary\" (did you mean \"library\"?)",
            "routes[0].timeout: must be longer than 0",
            "routes[1].http.upstream: upstream \"library\" is not an HTTP upstream",
        ],
    );
    assert!(!text.contains("unknown service"), "the service may be in the missing file:\n{text}");
}

#[test]
fn a_yaml_error_names_the_file_line_and_column() {
    let (ok, text) =
        run("validate", &[("gw.yaml", "listen: 127.0.0.1:1\nupstreams:\n  u: { endpointz: [] }\n")]);
    assert!(!ok);
    assert!(text.contains("gw.yaml:3:8: unknown field `endpointz`"), "{text}");
    assert!(!text.contains("<input>"), "{text}");
}

#[test]
fn a_listen_address_must_be_an_ip_address() {
    let yaml = format!(
        "listen: localhost:28089\nadmin: {{ listen: \"localhost:9901\" }}\ndescriptors: [{{ file: {DEMO_PB} }}]\n"
    );
    let (ok, text) = run("validate", &[("gw.yaml", &yaml)]);
    assert!(!ok);
    assert_reports(
        &text,
        &[
            "listen: \"localhost:28089\" is not an IP address and port: write 127.0.0.1:28089 (or [::1]:28089, 0.0.0.0:28089)",
            "admin.listen: \"localhost:9901\" is not an IP address and port",
        ],
    );
}
