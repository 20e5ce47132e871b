//! The large route table: 1 000 generated services of ten annotated
//! methods each (11 000 routes with their pass-throughs), compiled into
//! `scale.pb` in the run's directory, and the config lines that serve them.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;

use crate::configs::Workdir;

/// The generated services, each with ten annotated methods.
pub const SERVICES: usize = 1_000;

/// Writes `scale.proto` and its descriptor set `scale.pb` into `workdir`.
pub fn write_descriptors(workdir: &Workdir) -> anyhow::Result<()> {
    let dir = workdir.path();
    std::fs::write(dir.join("scale.proto"), proto())?;
    let mut compiler = protox::Compiler::new([dir, &Path::new(env!("CARGO_MANIFEST_DIR")).join("proto")])?;
    compiler.include_imports(true);
    compiler.open_files(["scale.proto"]).context("cannot compile the generated scale.proto")?;
    std::fs::write(dir.join("scale.pb"), compiler.encode_file_descriptor_set())?;
    Ok(())
}

/// The `scale` upstream, a line of `upstreams:`.
pub fn upstream_yaml(backend: SocketAddr) -> String {
    format!("  scale: {{ endpoints: [\"http://{backend}\"] }}\n")
}

/// One route per service, lines of `routes:`.
pub fn routes_yaml() -> String {
    let mut yaml = String::new();
    for n in 0..SERVICES {
        let _ = writeln!(yaml, "  - grpc: {{ service: scale.v1.Service{n}, upstream: scale }}");
    }
    yaml
}

/// A GET path each service's `GetThing` serves.
pub fn thing_path(n: usize) -> String {
    format!("/v1/svc{n}/projects/p-{n}/things/t-{n}")
}

/// Services `scale.v1.Service<n>`, each with ten methods over ten templates.
fn proto() -> String {
    let mut proto = String::from(
        "syntax = \"proto3\";\npackage scale.v1;\nimport \"google/api/annotations.proto\";\n\
         message Req { string id = 1; string parent = 2; string filter = 3; }\n\
         message Res { string id = 1; }\n",
    );
    for n in 0..SERVICES {
        let _ = write!(
            proto,
            "service Service{n} {{\n\
             rpc List(Req) returns (Res) {{ option (google.api.http) = {{ get: \"/v1/svc{n}/items\" }}; }}\n\
             rpc Get(Req) returns (Res) {{ option (google.api.http) = {{ get: \"/v1/svc{n}/items/{{id}}\" }}; }}\n\
             rpc Create(Req) returns (Res) {{ option (google.api.http) = {{ post: \"/v1/svc{n}/items\" body: \"*\" }}; }}\n\
             rpc Update(Req) returns (Res) {{ option (google.api.http) = {{ patch: \"/v1/svc{n}/items/{{id}}\" body: \"*\" }}; }}\n\
             rpc Delete(Req) returns (Res) {{ option (google.api.http) = {{ delete: \"/v1/svc{n}/items/{{id}}\" }}; }}\n\
             rpc Archive(Req) returns (Res) {{ option (google.api.http) = {{ post: \"/v1/svc{n}/items/{{id}}:archive\" body: \"*\" }}; }}\n\
             rpc ListThings(Req) returns (Res) {{ option (google.api.http) = {{ get: \"/v1/svc{n}/projects/{{parent}}/things\" }}; }}\n\
             rpc GetThing(Req) returns (Res) {{ option (google.api.http) = {{ get: \"/v1/svc{n}/projects/{{parent}}/things/{{id}}\" }}; }}\n\
             rpc Search(Req) returns (Res) {{ option (google.api.http) = {{ get: \"/v1/svc{n}/search\" }}; }}\n\
             rpc BatchGet(Req) returns (Res) {{ option (google.api.http) = {{ post: \"/v1/svc{n}/items:batchGet\" body: \"*\" }}; }}\n\
             }}\n"
        );
    }
    proto
}
