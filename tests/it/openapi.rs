//! The OpenAPI 3.1 document of the routes: what it says of the demo's
//! services (paths, parameters, proto3 JSON schemas, streams, security,
//! rate-limit headers), checked by a real validator (openapi-spec-validator
//! from PyPI, which .ci/run installs), served on the admin listener and, when
//! asked, the main one, following a reload; and `protogate openapi`.

use std::path::Path;

use protogate::{
    admin::{self, AdminOptions},
    compile,
    config::Config,
    demo::DemoBackend,
    reload::{ConfigSource, ReloadResult, Reloader, Trigger},
    server,
};
use serde_json::Value;

use crate::{
    cli::{DEMO_PB, protogate, write},
    support::tool,
};

/// The demo's three services, an API key and a JWT on Library, a rate limit on all.
fn demo_config(backend: &str, extra: &str) -> String {
    format!(
        r#"
listen: 127.0.0.1:0
descriptors: [{{ file: {DEMO_PB} }}]
upstreams:
  demo: {{ endpoints: ["http://{backend}"] }}
policies:
  partners:
    api_key: {{ keys: [{{ consumer: acme, sha256: "8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4" }}] }}
  users:
    jwt: {{ secret_env: CARGO_PKG_DESCRIPTION, algorithms: [HS256], audiences: [demo] }}
  per-ip:
    rate_limit: {{ key: ip, rate: 50/s, burst: 100 }}
default_policies: [per-ip]
routes:
  - grpc: {{ service: demo.v1.Library, upstream: demo }}
    policies: [partners, users]
  - grpc: {{ service: demo.v1.Stream, upstream: demo }}
{extra}"#
    )
}

async fn document_of(yaml: &str) -> Value {
    let config = Config::from_yaml(yaml, "test config").unwrap();
    let compiled = compile::compile(&config, Path::new(env!("CARGO_MANIFEST_DIR")), &[])
        .await
        .unwrap_or_else(|errors| panic!("{errors}"));
    serde_json::from_slice(&compiled.runtime.openapi().json).unwrap()
}

/// Runs openapi-spec-validator on `document`; `None` when it is not installed.
fn validate(document: &Value) -> Option<(bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "openapi.json", &document.to_string());
    tool::run("openapi-spec-validator", &[&file])
}

#[tokio::test]
async fn the_demo_document_is_valid_openapi_3_1_and_follows_the_proto3_json_mapping() {
    let document =
        document_of(&demo_config("127.0.0.1:1", "  - grpc: { service: demo.v1.Echo, upstream: demo }\n"))
            .await;
    if let Some((valid, text)) = validate(&document) {
        assert!(valid, "openapi-spec-validator refused the document:\n{text}");
    }
    assert_eq!(document["openapi"], "3.1.0");
    let paths = &document["paths"];
    let get_book = &paths["/v1/shelves/{shelf}/books/{book}"]["get"];
    assert_eq!(get_book["operationId"], "demo.v1.Library.GetBook");
    let shelf = &get_book["parameters"][0];
    assert_eq!(
        (&shelf["name"], &shelf["in"], &shelf["schema"]["type"]),
        (&"shelf".into(), &"path".into(), &"string".into())
    );
    assert_eq!(shelf["schema"]["format"], "int64", "int64 is a string in proto3 JSON");
    // An update with a body field, a custom verb, a field path variable.
    assert!(paths["/v1/shelves/{shelf}/books/{book_id}"]["patch"]["requestBody"].is_object(), "{paths:#}");
    assert!(paths["/v1/shelves/{shelf}/books/{book}:move"]["post"].is_object());
    // A variable spanning several segments is one parameter saying so.
    let files = &paths["/v1/files/{id}"]["get"]["parameters"][0];
    assert_eq!(files["schema"]["pattern"], "^.*$", "{files}");
    assert!(files["description"].as_str().unwrap().contains("slashes included"), "{files}");

    let schemas = &document["components"]["schemas"];
    let kitchen = &schemas["demo.v1.Kitchen"]["properties"];
    assert_eq!(kitchen["i64"]["type"], "string");
    assert_eq!(kitchen["u64"]["format"], "uint64");
    assert_eq!(kitchen["labels"]["additionalProperties"]["type"], "string", "maps are objects");
    assert_eq!(kitchen["numbers"]["items"]["type"], "string", "repeated int64");
    assert_eq!(kitchen["ts"]["format"], "date-time");
    assert_eq!(kitchen["ttl"]["type"], "string");
    assert!(schemas["demo.v1.Book"]["properties"]["genre"].is_object(), "{:#}", schemas["demo.v1.Book"]);
    let genre = &schemas["demo.v1.Book"]["properties"]["genre"]["enum"];
    assert!(
        genre.as_array().is_some_and(|names| names.iter().all(Value::is_string)),
        "enums as names: {genre}"
    );

    // Streams: the three framings, each with the error frame.
    let count = &paths["/v1/stream/count/{count}"]["get"]["responses"]["200"]["content"];
    for framing in ["application/x-ndjson", "text/event-stream", "application/json"] {
        assert!(count[framing].is_object(), "{framing} in {count:#}");
    }
    assert!(count.to_string().contains("protogate.ErrorFrame"));
    let sum = &paths["/v1/stream/sum"]["post"]["requestBody"]["content"];
    assert!(
        sum["application/x-ndjson"].is_object() && sum["application/json"]["schema"]["type"] == "array",
        "{sum}"
    );

    // Policies: the API key, the JWT and the rate-limit headers.
    let security = &document["components"]["securitySchemes"];
    assert_eq!(security["api_key_header_x_api_key"]["in"], "header", "{security:#}");
    assert_eq!(security["jwt_bearer"]["bearerFormat"], "JWT", "{security:#}");
    assert_eq!(get_book["security"].as_array().map(Vec::len), Some(2));
    assert!(get_book["responses"]["200"]["headers"]["RateLimit-Remaining"].is_object());
    assert!(paths["/v1/stream/count/{count}"]["get"].get("security").is_none());
}

#[tokio::test]
async fn the_listeners_serve_the_document_and_it_follows_a_reload() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backend_addr = backend.addr().to_string();
    let config = write(
        dir.path(),
        "gateway.yaml",
        &(demo_config(&backend_addr, "") + "openapi: { serve_on: main }\n"),
    );
    let reloader = Reloader::start(ConfigSource::File(config.clone().into()), Vec::new()).await.unwrap();
    let head = reloader.listeners().head;
    let main = server::start("127.0.0.1:0".parse().unwrap(), head, reloader.gateway().clone()).await.unwrap();
    let options = AdminOptions { reloader: Some(reloader.clone()), ..Default::default() };
    let admin =
        admin::start("127.0.0.1:0".parse().unwrap(), reloader.gateway().clone(), options).await.unwrap();
    let client = reqwest::Client::new();
    let get = |addr: std::net::SocketAddr| {
        let client = client.clone();
        async move {
            let response = client.get(format!("http://{addr}/openapi.json")).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, document) = get(admin.addr()).await;
    assert_eq!(status, 200);
    assert!(document["paths"]["/v1/shelves"].is_object());
    assert!(document["paths"]["/v1/echo/{value}"].is_null());
    let (status, from_main) = get(main.addr()).await;
    assert_eq!((status, &from_main), (200, &document));

    write(
        dir.path(),
        "gateway.yaml",
        &(demo_config(&backend_addr, "  - grpc: { service: demo.v1.Echo, upstream: demo }\n")
            + "openapi: { serve_on: admin }\n"),
    );
    let report = reloader.reload(Trigger::Admin).await;
    assert_eq!(report.result, ReloadResult::Ok, "{:?}", report.errors);
    let (_, document) = get(admin.addr()).await;
    assert!(
        document["paths"].as_object().unwrap().keys().any(|path| path.starts_with("/v1/echo")),
        "{document:#}"
    );
    let (status, _) = get(main.addr()).await;
    assert_eq!(status, 404, "serve_on: admin leaves the main listeners alone");
    admin.shutdown().await;
}

#[test]
fn protogate_openapi_prints_the_document_of_a_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gateway.yaml");
    let (ok, text) = protogate(&["openapi", "--config", example]);
    assert!(ok, "{text}");
    let document: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert!(document["paths"]["/v1/shelves"]["get"].is_object(), "{document:#}");
}

fn notes_proto(id_type: &str) -> String {
    format!(
        "syntax = \"proto3\";\npackage notes.v1;\nimport \"google/api/annotations.proto\";\n\
         service Notes {{\n  rpc GetNote(GetNoteRequest) returns (Note) {{ option (google.api.http) = {{ get: \"/v1/notes/{{id}}\" }}; }}\n}}\n\
         message GetNoteRequest {{ string id = 1; }}\nmessage Note {{ {id_type} id = 1; string text = 2; }}\n"
    )
}

#[tokio::test]
async fn a_reload_that_retypes_a_field_is_breaking_and_refused_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "protos/notes.proto", &notes_proto("string"));
    let yaml = |refuse: bool| {
        format!(
            "listen: 127.0.0.1:0\ndescriptors: [{{ proto: protos }}]\nupstreams:\n  notes: {{ endpoints: [\"http://127.0.0.1:1\"] }}\n\
             routes:\n  - grpc: {{ service: notes.v1.Notes, upstream: notes }}\nreload: {{ refuse_breaking: {refuse} }}\n"
        )
    };
    let config = write(dir.path(), "gateway.yaml", &yaml(true));
    let reloader = Reloader::start(ConfigSource::File(config.into()), Vec::new()).await.unwrap();

    write(dir.path(), "protos/notes.proto", &notes_proto("int32"));
    let report = reloader.reload(Trigger::Admin).await;
    assert_eq!(report.result, ReloadResult::Failed, "{report:?}");
    assert_eq!(
        report.errors,
        ["reload.refuse_breaking: field notes.v1.Note.id changes type: string → integer (int32)"]
    );
    assert_eq!(reloader.generation(), 1);

    write(dir.path(), "gateway.yaml", &yaml(false));
    let report = reloader.reload(Trigger::Admin).await;
    assert_eq!(report.result, ReloadResult::Ok, "{report:?}");
    assert_eq!(report.breaking, ["field notes.v1.Note.id changes type: string → integer (int32)"]);
}
