//! HTTP semantics of transcoded routes: HEAD wherever GET is, 415 for a
//! body that is not JSON, and the success status and headers a backend
//! chooses through reserved reply metadata (`x-http-code`,
//! `x-http-header-<name>`).

use crate::support::gateway::Harness;

#[tokio::test]
async fn head_is_served_wherever_get_is_without_a_body() {
    let gateway = Harness::start().await;
    let get = gateway.client.get(gateway.url("/v1/shelves/1/books/2")).send().await.unwrap();
    let get_length = get.bytes().await.unwrap().len();
    let calls = gateway.backend().calls();
    let head = gateway.client.head(gateway.url("/v1/shelves/1/books/2")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "application/json");
    assert_eq!(head.headers()["content-length"], get_length.to_string().as_str());
    assert!(head.bytes().await.unwrap().is_empty());
    assert_eq!(gateway.backend().calls(), calls + 1, "HEAD makes the same call as GET");
    // The backend's errors keep their status, without a body.
    let missing = gateway.client.head(gateway.url("/v1/shelves/9")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.bytes().await.unwrap().is_empty());
    // A path served only by POST still says which methods it takes.
    let post_only = gateway.client.head(gateway.url("/v1/fail")).send().await.unwrap();
    assert_eq!(post_only.status(), 405);
    assert_eq!(post_only.headers()["allow"], "POST");
    let get_too = gateway.client.put(gateway.url("/v1/shelves/1/books/2/cover")).send().await.unwrap();
    assert_eq!(get_too.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_except_for_raw_bodies() {
    let gateway = Harness::start().await;
    let post = |content_type: Option<&str>, path: &str, body: &str| {
        let mut request = gateway.client.post(gateway.url(path)).body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let response = post(Some("text/plain"), "/v1/echo", r#"{"id":"x"}"#).await.unwrap();
    assert_eq!(response.status(), 415);
    let body: serde_json::Value = response.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("text/plain") && message.contains("application/json"), "{body}");
    for content_type in [None, Some("application/json"), Some("application/json; charset=utf-8")] {
        let response = post(content_type, "/v1/echo", r#"{"id":"x"}"#).await.unwrap();
        assert_eq!(response.status(), 200, "{content_type:?}");
    }
    // google.api.HttpBody takes any type.
    let response = post(Some("text/plain"), "/v1/upload", "hello").await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_create_answers_201_with_its_location() {
    let gateway = Harness::start().await;
    let response = gateway
        .client
        .post(gateway.url("/v1/shelves/1/books"))
        .header("content-type", "application/json")
        .body(r#"{"title":"Dune","author":"Frank Herbert"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let headers = response.headers().clone();
    let book: serde_json::Value = response.json().await.unwrap();
    let id = book["id"].as_str().unwrap();
    assert_eq!(headers["location"], format!("/v1/shelves/1/books/{id}").as_str());
    assert!(headers.get("grpc-metadata-x-http-code").is_none(), "reserved keys are not echoed");
    assert!(headers.get("grpc-metadata-x-http-header-location").is_none());
}

/// Echo's Metadata method with `x-reply-<key>: value` sent, which the demo
/// backend answers with `<key>: value` reply metadata.
async fn metadata_reply(gateway: &Harness, reply: &[(&str, &str)]) -> reqwest::Response {
    let mut request = gateway.client.get(gateway.url("/v1/metadata"));
    for (key, value) in reply {
        request = request.header(format!("grpc-metadata-x-reply-{key}"), *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_backend_chooses_the_status_and_headers_within_limits() {
    let gateway = Harness::start().await;
    let accepted = metadata_reply(&gateway, &[("x-http-code", "202"), ("x-http-header-x-job", "j-1")]).await;
    assert_eq!(accepted.status(), 202);
    assert_eq!(accepted.headers()["x-job"], "j-1");
    assert_eq!(accepted.headers()["grpc-metadata-x-echo-header"], "hello", "other metadata is kept");
    assert!(accepted.text().await.unwrap().contains("received"));

    let no_content = metadata_reply(&gateway, &[("x-http-code", "204")]).await;
    assert_eq!(no_content.status(), 204);
    assert!(no_content.headers().get("content-type").is_none());
    assert!(no_content.bytes().await.unwrap().is_empty());

    // Not a success status, or a header the gateway owns: ignored.
    for code in ["404", "500", "99", "abc"] {
        let response = metadata_reply(&gateway, &[("x-http-code", code)]).await;
        assert_eq!(response.status(), 200, "{code}");
    }
    let owned = metadata_reply(
        &gateway,
        &[("x-http-header-content-type", "text/html"), ("x-http-header-connection", "close")],
    )
    .await;
    assert_eq!(owned.status(), 200);
    assert_eq!(owned.headers()["content-type"], "application/json");
    assert!(owned.headers().get("connection").is_none_or(|v| v != "close"));
}

#[tokio::test]
async fn a_binding_sets_its_default_success_status_in_config() {
    let config = crate::support::gateway::DEMO_CONFIG.replace(
        "- grpc: { service: demo.v1.Library, upstream: demo }",
        "- grpc: { service: demo.v1.Library, upstream: demo, success_status: { DeleteBook: 204, \"POST /v1/shelves\": 201 } }",
    );
    let gateway = Harness::with_config(&config).await;
    let deleted = gateway.client.delete(gateway.url("/v1/shelves/1/books/1")).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty());
    let (status, shelf) = gateway.send_json("POST", "/v1/shelves", r#"{"theme":"Poetry"}"#).await;
    assert_eq!(status, 201, "{shelf}");
    // The backend's own choice wins over the default.
    let (status, _) = gateway.send_json("POST", "/v1/shelves/1/books", r#"{"title":"T","author":"A"}"#).await;
    assert_eq!(status, 201);
    let (status, _) = gateway.get_json("/v1/shelves/1/books/2").await;
    assert_eq!(status, 200, "other bindings keep 200");
}

#[tokio::test]
async fn a_success_status_names_a_binding_and_a_success() {
    let yaml = crate::support::gateway::DEMO_CONFIG.replace("{backend}", "127.0.0.1:1").replace(
        "- grpc: { service: demo.v1.Library, upstream: demo }",
        "- grpc: { service: demo.v1.Library, upstream: demo, success_status: { DeleteBok: 204, GetBook: 404, \"PUT /v1/nowhere\": 201 } }",
    );
    let config = protogate::config::Config::from_yaml(&yaml, "test").unwrap();
    let errors = protogate::compile::compile(&config, std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &[])
        .await
        .unwrap_err()
        .to_string();
    for expected in [
        "routes[0].grpc.success_status.DeleteBok: no method or binding \"DeleteBok\" in demo.v1.Library (did you mean \"DeleteBook\"?)",
        "routes[0].grpc.success_status.GetBook: 404 is not a success status (200 to 399)",
        "routes[0].grpc.success_status.PUT /v1/nowhere: no method or binding",
    ] {
        assert!(errors.contains(expected), "missing {expected:?} in:\n{errors}");
    }
}

#[tokio::test]
async fn a_client_streaming_methods_rest_path_is_routed_to_its_backend() {
    let dir = tempfile::tempdir().unwrap();
    let proto = dir.path().join("notes/v1/notes.proto");
    std::fs::create_dir_all(proto.parent().unwrap()).unwrap();
    std::fs::write(
        &proto,
        r#"syntax = "proto3";
package notes.v1;
import "google/api/annotations.proto";
service Notes {
  rpc GetNote(Note) returns (Note) { option (google.api.http) = { get: "/v1/notes/{id}" }; }
  rpc WatchNotes(stream Note) returns (Note) { option (google.api.http) = { post: "/v1/notes:watch" body: "*" }; }
}
message Note { string id = 1; }
"#,
    )
    .unwrap();
    let yaml = format!(
        "listen: 127.0.0.1:0\ndescriptors: [{{ proto: {} }}]\nupstreams: {{ notes: {{ endpoints: [\"http://127.0.0.1:1\"] }} }}\nroutes: [{{ grpc: {{ service: notes.v1.Notes, upstream: notes }} }}]\n",
        dir.path().display()
    );
    let gateway = crate::support::gateway::start_gateway(&yaml).await;
    let url = format!("http://{}/v1/notes:watch", gateway.addr());
    let response = reqwest::Client::new().post(url).body("{}").send().await.unwrap();
    let (status, body) = crate::support::gateway::json_of(response).await;
    // Served as a stream: the backend (nothing listens there) is called.
    assert_eq!((status, body["code"].clone()), (503, serde_json::json!(14)), "{body}");
    assert_eq!(body["message"], "upstream \"notes\" is unreachable", "{body}");
}
