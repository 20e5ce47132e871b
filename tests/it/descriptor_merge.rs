//! Descriptor sets from many teams merge: copies of one file that differ
//! only in file options, source info or comments are one file; a built-in
//! file (google/api, google/protobuf, google/rpc) may be fuller in one set;
//! a real disagreement is refused naming both sources and the definition;
//! standard error details (google.rpc.BadRequest) render as JSON out of the box.

use std::path::{Path, PathBuf};

use prost::Message;
use protogate::{
    proto::google::rpc::{BadRequest, Status as RpcStatusProto, bad_request::FieldViolation},
    schema::{DescriptorSource, Schema},
};
use serde_json::json;

use crate::support::{gateway::start_gateway, raw_grpc::start_raw_grpc_with_trailers};

const SHARED_A: &str = r#"
syntax = "proto3";
package shared.v1;
import "google/api/annotations.proto";
option java_package = "com.team_a.shared";
option go_package = "example.com/a/shared";
option objc_class_prefix = "TA";
// Team A's comment.
message Shelf {
  string name = 1;
  repeated int64 ids = 2;
  map<string, string> labels = 3;
  oneof kind { string theme = 4; int32 floor = 5; }
}
service Shelves {
  rpc GetShelf(Shelf) returns (Shelf) { option (google.api.http) = { get: "/v1/{name=shelves/*}" }; }
}
"#;

const SHARED_B: &str = r#"
syntax = "proto3";
// Team B reformatted the file and uses other file options.
package shared.v1;
option objc_class_prefix = "TB";
option go_package = "example.com/b/shared;shared";
option java_multiple_files = true;
option java_package = "com.team_b.shared";
import "google/api/annotations.proto";

message Shelf {
  string name = 1 [deprecated = true];
  repeated int64 ids = 2;
  map<string, string> labels = 3;
  oneof kind {
    string theme = 4;
    int32 floor = 5;
  }
}

service Shelves {
  rpc GetShelf(Shelf) returns (Shelf) {
    option (google.api.http) = { get: "/v1/{name=shelves/*}" };
  }
}
"#;

const TEAM_A: &str = r#"
syntax = "proto3";
package a.v1;
import "shared/v1/shared.proto";
message Wrapper { shared.v1.Shelf shelf = 1; }
"#;

const TEAM_B: &str = r#"
syntax = "proto3";
package b.v1;
import "shared/v1/shared.proto";
message Holder { shared.v1.Shelf shelf = 1; }
"#;

/// Writes `files` under a new directory and compiles `top` (and its
/// imports, google/api from the repo's proto/) into an encoded set, as
/// that team's own build would; returns the set's path.
fn team_set(dir: &Path, team: &str, files: &[(&str, &str)], top: &str, source_info: bool) -> PathBuf {
    let root = dir.join(team);
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut compiler = protox::Compiler::new([root.clone(), PathBuf::from("proto")]).unwrap();
    compiler.include_imports(true).include_source_info(source_info);
    compiler.open_files([top]).unwrap();
    let set = dir.join(format!("{team}.pb"));
    std::fs::write(&set, compiler.encode_file_descriptor_set()).unwrap();
    set
}

/// Team A's set: its copy of shared.proto and a.proto, without source info.
fn team_a(dir: &Path) -> PathBuf {
    team_set(
        dir,
        "a",
        &[("shared/v1/shared.proto", SHARED_A), ("a/v1/a.proto", TEAM_A)],
        "a/v1/a.proto",
        false,
    )
}

/// Team B's set, with `shared` as its copy of shared.proto.
fn team_b(dir: &Path, shared: &str) -> PathBuf {
    team_set(dir, "b", &[("shared/v1/shared.proto", shared), ("b/v1/b.proto", TEAM_B)], "b/v1/b.proto", false)
}

fn load(sets: &[&PathBuf]) -> Result<Schema, String> {
    let sources: Vec<_> = sets.iter().map(|set| DescriptorSource::File((*set).clone())).collect();
    Schema::load(&sources)
        .map_err(|failures| failures.iter().map(|f| f.error.to_string()).collect::<Vec<_>>().join("; "))
}

#[test]
fn copies_differing_in_file_options_comments_and_source_info_are_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = team_a(dir.path());
    let b = team_set(
        dir.path(),
        "b",
        &[("shared/v1/shared.proto", SHARED_B), ("b/v1/b.proto", TEAM_B)],
        "b/v1/b.proto",
        true,
    );
    for order in [[&a, &b], [&b, &a]] {
        let schema = load(&order).unwrap();
        for message in ["a.v1.Wrapper", "b.v1.Holder", "shared.v1.Shelf"] {
            assert!(schema.pool().get_message_by_name(message).is_some(), "{message} missing");
        }
        let method =
            schema.pool().get_service_by_name("shared.v1.Shelves").unwrap().methods().next().unwrap();
        assert!(method.options().get_extension(schema.http_option().unwrap()).as_message().is_some());
    }
}

#[test]
fn a_built_in_file_one_set_defines_more_of_is_accepted_and_the_fuller_kept() {
    let dir = tempfile::tempdir().unwrap();
    let newer_http = std::fs::read_to_string("proto/google/api/http.proto").unwrap()
        + "\n// A newer googleapis.\nmessage NewerThing { string x = 1; }\n";
    let a = team_a(dir.path());
    let b = team_set(
        dir.path(),
        "b",
        &[
            ("google/api/http.proto", &newer_http),
            ("shared/v1/shared.proto", SHARED_A),
            ("b/v1/b.proto", TEAM_B),
        ],
        "b/v1/b.proto",
        false,
    );
    for order in [[&a, &b], [&b, &a]] {
        let schema = load(&order).unwrap();
        assert!(schema.pool().get_message_by_name("google.api.NewerThing").is_some());
        assert!(schema.http_option().is_some());
    }
}

#[test]
fn a_real_disagreement_is_refused_naming_both_sources_and_the_definition() {
    let dir = tempfile::tempdir().unwrap();
    let renumbered = SHARED_B.replace("repeated int64 ids = 2;", "repeated int64 ids = 6;");
    let a = team_a(dir.path());
    let b = team_b(dir.path(), &renumbered);
    let error = load(&[&a, &b]).unwrap_err();
    let (a, b) = (a.display(), b.display());
    assert_eq!(
        error,
        format!(
            "shared/v1/shared.proto differs between file {a} and file {b}: field shared.v1.Shelf.ids is \
             `2 repeated int64 json=ids` in file {a} and `6 repeated int64 json=ids` in file {b}"
        )
    );
}

#[test]
fn a_file_of_a_team_that_defines_more_is_refused_unless_built_in() {
    let dir = tempfile::tempdir().unwrap();
    let grown = SHARED_B.to_owned() + "message Extra { string x = 1; }\n";
    let a = team_a(dir.path());
    let b = team_b(dir.path(), &grown);
    let error = load(&[&a, &b]).unwrap_err();
    assert!(
        error.contains(&format!("message shared.v1.Extra is defined in file {} only", b.display())),
        "{error}"
    );
}

#[tokio::test]
async fn a_standard_bad_request_detail_renders_as_json() {
    let violation = FieldViolation {
        field: "shelf.name".into(),
        description: "must not be empty".into(),
        ..Default::default()
    };
    let detail = BadRequest { field_violations: vec![violation] };
    let status = RpcStatusProto {
        code: 3,
        message: "bad shelf".into(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
            value: detail.encode_to_vec(),
        }],
    };
    let mut trailers = http::HeaderMap::new();
    tonic::Status::with_details(tonic::Code::InvalidArgument, "bad shelf", status.encode_to_vec().into())
        .add_header(&mut trailers)
        .unwrap();
    let raw = start_raw_grpc_with_trailers(None, trailers).await;
    // demo.pb carries no google/rpc file: the gateway's own are used.
    let config = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams: { raw: { endpoints: ["http://{backend}"] } }
routes:
  - grpc: { service: demo.v1.Echo, upstream: raw }
"#
    .replace("{backend}", &raw.to_string());
    let gateway = start_gateway(&config).await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/fail", gateway.addr()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "shelf.name", "description": "must not be empty"}]
        }])
    );
}
