//! The README's first hour, with the real binary: `demo` (its printed
//! requests and the README's, in order, each working after the ones
//! before), the examples pointed at the demo's backend by
//! `--backend-listen`, a config of one's own with a descriptor set built
//! like protoc's, a typo caught by `validate`; and the published key of
//! examples/edge.yaml opening its Library routes.

use std::{fs, path::Path, process::Command};

use protogate::demo::DemoBackend;

use crate::support::{
    gateway::start_gateway,
    process::{CurlLine, Running, logged_addr},
};

const README: &str = include_str!("../../README.md");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The curl lines of the README's first shell block after `after`.
fn readme_curl_lines(after: &str) -> Vec<String> {
    let rest = &README[README.find(after).unwrap_or_else(|| panic!("README lacks {after:?}"))..];
    let block = &rest[rest.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    block.lines().filter(|line| line.starts_with("curl ")).map(str::to_owned).collect()
}

/// Sends `lines` in order: each answers 2xx, or the 404 its comment announces.
async fn run_curl_lines(lines: &[String]) {
    let client = reqwest::Client::new();
    for text in lines {
        let line = CurlLine::parse(text);
        let (status, body) = line.send(&client).await;
        if line.comment.contains("404") {
            assert_eq!(status, 404, "{text}: {body}");
        } else {
            assert!((200..300).contains(&status), "{text}: {status} {body}");
        }
    }
}

fn protogate(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_protogate")).args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

/// A descriptor set of proto/demo/v1/library.proto with its imports, as
/// `protoc --include_imports -o` writes it.
fn build_descriptor_set(path: &Path) {
    let mut compiler = protox::Compiler::new([format!("{ROOT}/proto")]).unwrap();
    compiler.include_imports(true);
    compiler.open_files(["demo/v1/library.proto"]).unwrap();
    fs::write(path, compiler.encode_file_descriptor_set()).unwrap();
}

#[tokio::test]
async fn the_first_hour_as_the_readme_tells_it() {
    // The demo, on ports of its choosing instead of the README's.
    for command in [
        "cargo run --release -- demo",
        "protogate demo --listen 127.0.0.1:8090 --backend-listen 127.0.0.1:50051",
        "protogate validate --config examples/gateway.yaml",
        "protogate run --config examples/gateway.yaml",
    ] {
        assert!(README.contains(command), "README lacks {command:?}");
    }
    let demo = Running::demo();
    let welcome = demo.line_where(|line| line.starts_with("protogate demo:"));
    let gateway = welcome.split("http://").nth(1).unwrap().split(',').next().unwrap().to_owned();
    let backend = welcome.rsplit(' ').next().unwrap().to_owned();
    assert!(!gateway.ends_with(":0") && !backend.ends_with(":0"), "the bound ports are printed: {welcome}");
    let page = demo.line_where(|line| line.starts_with("The admin page: "));
    let page = page.trim_start_matches("The admin page: ");
    assert!(page.ends_with(&format!("/?api=http://{gateway}")), "{page}");
    let served = reqwest::get(page).await.unwrap();
    assert_eq!(
        (served.status().as_u16(), served.headers()["content-type"].to_str().unwrap()),
        (200, "text/html; charset=utf-8")
    );
    let printed = demo.lines_between(|line| line == "Try:", |line| line.starts_with("Press Ctrl-C"));
    // Log lines (stderr) may come between the printed ones (stdout).
    let printed: Vec<String> =
        printed.iter().map(|line| line.trim().to_owned()).filter(|line| line.starts_with("curl ")).collect();
    assert!(printed.len() >= 5, "{printed:?}");
    run_curl_lines(&printed).await;
    let readme: Vec<String> = readme_curl_lines("prints requests to try")
        .iter()
        .map(|line| line.replace("localhost:8080", &gateway))
        .collect();
    assert!(readme.len() >= 3, "{readme:?}");
    run_curl_lines(&readme).await;

    // Your own config, in front of the demo's backend, with a descriptor set.
    let dir = tempfile::tempdir().unwrap();
    build_descriptor_set(&dir.path().join("library.pb"));
    let example = include_str!("../../examples/gateway.yaml");
    assert!(example.contains("127.0.0.1:50051") && example.contains("listen: 127.0.0.1:8080"));
    let yaml = example
        .replace("127.0.0.1:50051", &backend)
        .replace("listen: 127.0.0.1:8080", "listen: 127.0.0.1:0")
        .replace("../descriptors/demo.pb", "library.pb");
    let config = dir.path().join("gateway.yaml");
    fs::write(&config, &yaml).unwrap();
    let config = config.display().to_string();
    let (code, text) = protogate(&["validate", "--config", &config]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("ok, 13 routes"), "{text}");
    let run = Running::start(&["run", "--config", &config]);
    let serving = logged_addr(&run.line_where(|line| line.contains("protogate is serving")), "addr");
    let book: serde_json::Value =
        reqwest::get(format!("http://{serving}/v1/shelves/1/books/2")).await.unwrap().json().await.unwrap();
    assert_eq!(book["id"], "2", "{book}");
    drop(run);

    // A deliberate typo.
    let typo = yaml.replace("upstream: library }", "upstream: libary }");
    assert_ne!(typo, yaml);
    fs::write(dir.path().join("gateway.yaml"), typo).unwrap();
    let (code, text) = protogate(&["validate", "--config", &config]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(r#"routes[0].grpc.upstream: unknown upstream "libary" (did you mean "library"?)"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_edge_examples_key_is_published_and_opens_its_routes() {
    let edge = include_str!("../../examples/edge.yaml");
    let key =
        edge.split("x-api-key: ").nth(1).expect("edge.yaml publishes its key").split('\'').next().unwrap();
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let legacy = crate::support::http_backends::start_echo().await;
    let yaml = edge
        .replace("127.0.0.1:50051", &backend.addr().to_string())
        .replace("127.0.0.1:50052", &backend.addr().to_string())
        .replace("127.0.0.1:8081", &legacy.to_string())
        .replace("listen: 127.0.0.1:8080", "listen: 127.0.0.1:0");
    // Paths from the crate root, as the test gateway takes them.
    let gateway = start_gateway(&yaml.replace("../descriptors/", "descriptors/")).await;
    let url = format!("http://{}/v1/shelves/1/books/2", gateway.addr());
    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    let response = client.get(&url).header("x-api-key", key).send().await.unwrap();
    assert_eq!(response.status(), 200, "{key:?}: {}", response.text().await.unwrap());
}
