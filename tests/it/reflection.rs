//! Descriptors from gRPC server reflection, against real tonic backends
//! serving tonic-reflection: routes built from what the backend says, a
//! backend that only serves v1alpha, one without reflection (a clear error
//! naming it), reflection mixed with .proto sources, an API that grows
//! while the gateway runs (a refresh brings its new route, no restart), and
//! a failed reflection that keeps the last good descriptors.

use std::{path::Path, sync::Arc, time::Duration};

use protogate::{
    compile,
    config::Config,
    demo::{DemoBackend, DemoReflection},
    proto::DEMO_DESCRIPTOR_SET,
    reload::{ConfigSource, ReloadResult, Reloader, Trigger},
    server::{self, RunningServer},
};

use crate::support::raw_grpc::start_raw_grpc;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn reflection_config(backend: impl std::fmt::Display, refresh: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\n\
         descriptors:\n  - reflection: {{ upstream: demo{refresh} }}\n\
         upstreams:\n  demo: {{ endpoints: [\"http://{backend}\"] }}\n\
         routes:\n  - grpc: {{ service: demo.v1.Library, upstream: demo }}\n"
    )
}

/// The config compiled and served, with its reloader and triggers.
struct Site {
    reloader: Arc<Reloader>,
    server: RunningServer,
    _triggers: protogate::reload::Triggers,
}

impl Site {
    async fn start(yaml: &str) -> Self {
        let config = Config::from_yaml(yaml, "test config").unwrap();
        let source = ConfigSource::Fixed { config: Box::new(config), base_dir: MANIFEST.into() };
        let reloader = Reloader::start(source, Vec::new()).await.unwrap_or_else(|error| panic!("{error}"));
        let head = reloader.listeners().head;
        let server =
            server::start("127.0.0.1:0".parse().unwrap(), head, reloader.gateway().clone()).await.unwrap();
        let triggers = reloader.start_triggers().unwrap();
        Self { reloader, server, _triggers: triggers }
    }

    async fn status_of(&self, method: reqwest::Method, path: &str) -> u16 {
        let url = format!("http://{}{path}", self.server.addr());
        reqwest::Client::new().request(method, url).send().await.unwrap().status().as_u16()
    }
}

async fn compile_errors(yaml: &str) -> String {
    let config = Config::from_yaml(yaml, "test config").unwrap();
    match compile::compile(&config, Path::new(MANIFEST), &[]).await {
        Ok(_) => panic!("the config compiled"),
        Err(errors) => errors.to_string(),
    }
}

/// demo/v1/library.proto without its `GetBookCover` method: the API before
/// a deploy adds it.
fn library_without_cover() -> &'static [u8] {
    let source = std::fs::read_to_string(format!("{MANIFEST}/proto/demo/v1/library.proto")).unwrap();
    let start = source.find("  // A non-JSON reply").expect("the GetBookCover method");
    let end = start + source[start..].find("  }\n").unwrap() + 4;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("demo/v1")).unwrap();
    std::fs::write(
        dir.path().join("demo/v1/library.proto"),
        format!("{}{}", &source[..start], &source[end..]),
    )
    .unwrap();
    let mut compiler =
        protox::Compiler::new([dir.path().to_path_buf(), format!("{MANIFEST}/proto").into()]).unwrap();
    compiler.include_imports(true);
    compiler.open_files(["demo/v1/library.proto"]).unwrap();
    compiler.encode_file_descriptor_set().leak()
}

#[tokio::test]
async fn routes_come_from_the_descriptors_a_backend_reflects() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let site = Site::start(&reflection_config(backend.addr(), "")).await;
    assert_eq!(site.status_of(reqwest::Method::GET, "/v1/shelves").await, 200);
    assert_eq!(site.status_of(reqwest::Method::GET, "/v1/shelves/1").await, 200);
    let routes = site.reloader.gateway().runtime().routes().len();
    assert!(routes >= 10, "every annotated Library method is a route, got {routes}");
}

#[tokio::test]
async fn a_backend_that_serves_only_v1alpha_is_read_through_it() {
    let reflection = DemoReflection::V1AlphaOnly(DEMO_DESCRIPTOR_SET);
    let backend =
        DemoBackend::start_with_reflection("127.0.0.1:0".parse().unwrap(), reflection).await.unwrap();
    let site = Site::start(&reflection_config(backend.addr(), "")).await;
    assert_eq!(site.status_of(reqwest::Method::GET, "/v1/shelves").await, 200);
}

#[tokio::test]
async fn a_backend_without_reflection_is_an_error_naming_the_upstream() {
    let backend = DemoBackend::start_with_reflection("127.0.0.1:0".parse().unwrap(), DemoReflection::Off)
        .await
        .unwrap();
    let errors = compile_errors(&reflection_config(backend.addr(), "")).await;
    assert!(
        errors.contains(
            "descriptors[0].reflection: server reflection of upstream \"demo\" failed: it does not serve \
             gRPC server reflection (neither grpc.reflection.v1 nor v1alpha)"
        ),
        "{errors}"
    );

    // A server that fails every call otherwise (INTERNAL) is named too.
    let failing = start_raw_grpc(None, "13").await;
    let errors = compile_errors(&reflection_config(failing, "")).await;
    assert!(
        errors.contains("server reflection of upstream \"demo\" failed: listing its services: Internal"),
        "{errors}"
    );

    let errors = compile_errors(
        &reflection_config(backend.addr(), "").replace("upstream: demo }", "upstream: dmeo }"),
    )
    .await;
    assert!(errors.contains("descriptors[0].reflection.upstream: unknown upstream \"dmeo\""), "{errors}");
}

#[tokio::test]
async fn reflection_and_proto_sources_mix_in_one_pool() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("notes.proto"),
        "syntax = \"proto3\";\npackage notes.v1;\nimport \"google/api/annotations.proto\";\n\
         service Notes { rpc GetNote(GetNoteRequest) returns (Note) { option (google.api.http) = { get: \"/v1/notes/{id}\" }; } }\n\
         message GetNoteRequest { string id = 1; }\nmessage Note { string id = 1; }\n",
    )
    .unwrap();
    let yaml = reflection_config(backend.addr(), "")
        .replace("descriptors:\n", &format!("descriptors:\n  - proto: {}\n", dir.path().display()))
        + "  - grpc: { service: notes.v1.Notes, upstream: demo }\n";
    let site = Site::start(&yaml).await;
    assert_eq!(site.status_of(reqwest::Method::GET, "/v1/shelves").await, 200);
    // The route exists (the demo backend does not serve Notes: UNIMPLEMENTED, 501).
    assert_eq!(site.status_of(reqwest::Method::GET, "/v1/notes/a").await, 501);
}

#[tokio::test]
async fn a_method_the_backend_deploys_becomes_a_route_without_a_restart() {
    let before = DemoReflection::Both(library_without_cover());
    let backend = DemoBackend::start_with_reflection("127.0.0.1:0".parse().unwrap(), before).await.unwrap();
    let addr = backend.addr();
    let site = Site::start(&reflection_config(addr, ", refresh: 100ms")).await;
    let cover = "/v1/shelves/1/books/1/cover";
    assert_eq!(site.status_of(reqwest::Method::GET, cover).await, 404, "no GetBookCover yet");

    // The deploy: the backend restarts on its address with the new API.
    // Its old accept task lets go of the port when it next runs: bind again until it has.
    drop(backend);
    let mut binds = 0;
    let _backend = loop {
        match DemoBackend::start_with_reflection(addr, DemoReflection::default()).await {
            Ok(backend) => break backend,
            Err(error) if binds < 100 && error.kind() == std::io::ErrorKind::AddrInUse => binds += 1,
            Err(error) => panic!("cannot restart the backend on {addr}: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut polls = 0;
    while site.status_of(reqwest::Method::GET, cover).await == 404 {
        polls += 1;
        assert!(polls < 100, "the new route did not appear within 10s of refreshes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(site.status_of(reqwest::Method::GET, cover).await, 200);
    let status = site.reloader.status();
    assert_eq!(status["last_reload"]["trigger"], "reflection", "{status}");
    assert_eq!(
        status["last_reload"]["routes"]["added"][0]["template"],
        "/v1/shelves/{shelf}/books/{book}/cover"
    );
}

#[tokio::test]
async fn a_failed_reflection_keeps_the_last_good_descriptors() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let site = Site::start(&reflection_config(backend.addr(), "")).await;
    let routes = site.reloader.gateway().runtime().routes().len();
    drop(backend);
    let report = site.reloader.reload(Trigger::Admin).await;
    assert_eq!(report.result, ReloadResult::Ok, "{:?}", report.errors);
    assert!(report.routes.removed.is_empty(), "{:?}", report.routes);
    assert_eq!(site.reloader.gateway().runtime().routes().len(), routes);
}
