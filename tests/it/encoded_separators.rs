//! Encoded separators on pass-through routes: a protected prefix cannot be
//! reached from an open one with `..%2F`, `..%5C`, `..;/` and their kin,
//! which backends that decode `%2F`, read `\` as `/` or drop `;` path
//! parameters (Tomcat, Spring) would resolve to the protected path. By
//! default such paths are a 400; `http.allow_encoded_slashes` lets `%2F`
//! through for backends that need it, never next to a dot segment. The
//! normalised path is what the backend gets.

use protogate::policy::auth::hash_key;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::support::{gateway::Harness, http_backends::raw_get};

fn config() -> String {
    format!(
        r#"
listen: 127.0.0.1:0
descriptors: [{{ file: descriptors/demo.pb }}]
upstreams:
  legacy: {{ protocol: http, endpoints: ["http://{{legacy}}"] }}
policies:
  ops-key: {{ api_key: {{ keys: [{{ consumer: ops, sha256: {hash} }}] }} }}
routes:
  - http: {{ prefix: /public/, upstream: legacy }}
  - http: {{ prefix: /files/, upstream: legacy, allow_encoded_slashes: true }}
  - http: {{ prefix: /admin/, upstream: legacy }}
    policies: [ops-key]
"#,
        hash = hash_key("ops-secret-key-0123456789")
    )
}

/// A raw GET of `path` (no client normalises it): status and the response text.
async fn get(gateway: &Harness, path: &str) -> (u16, String) {
    let addr = gateway.url("").trim_start_matches("http://").to_owned();
    raw_get(TcpStream::connect(addr).await.unwrap(), path).await
}

/// The path the echo backend received, from a 200's JSON body.
fn echoed_path(text: &str) -> String {
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not an echo: {text}"));
    json["path"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_protected_prefix_cannot_be_reached_from_an_open_one() {
    let gateway = Harness::with_echo_backend(&config()).await;
    let (status, text) = get(&gateway, "/admin/secret").await;
    assert_eq!(status, 401, "{text}");
    let (status, text) = get(&gateway, "/public/page").await;
    assert_eq!((status, echoed_path(&text).as_str()), (200, "/public/page"), "{text}");

    for path in [
        "/public/..%2Fadmin/secret",
        "/public/..%2fadmin/secret",
        "/public/%2e%2e%2Fadmin/secret",
        "/public/..%5Cadmin/secret",
        "/public/..%5cadmin/secret",
        "/public/..\\admin/secret",
        "/public/a\\b",
        "/public/..;/admin/secret",
        "/public/..;jsessionid=1/admin/secret",
        "/public/%2e%2E;x/admin/secret",
        "/public/.;x/page",
        "/public/page%00.html",
        "/public/a%2Fb",
    ] {
        let (status, text) = get(&gateway, path).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(!text.contains("\"method\""), "{path} reached the backend: {text}");
    }
}

#[tokio::test]
async fn the_backend_gets_the_normalised_path() {
    let gateway = Harness::with_echo_backend(&config()).await;
    for (raw, forwarded) in [
        ("/public/./a//b/../c", "/public/a/c"),
        ("/public/%7euser/caf%c3%a9", "/public/~user/caf%C3%A9"),
        ("/public/a;v=1/b", "/public/a;v=1/b"),
        ("/public/...;x", "/public/...;x"),
    ] {
        let (status, text) = get(&gateway, raw).await;
        assert_eq!((status, echoed_path(&text).as_str()), (200, forwarded), "{raw}: {text}");
    }
}

#[tokio::test]
async fn allow_encoded_slashes_lets_them_through_but_never_beside_dots() {
    let gateway = Harness::with_echo_backend(&config()).await;
    let (status, text) = get(&gateway, "/files/a%2fb/c").await;
    assert_eq!((status, echoed_path(&text).as_str()), (200, "/files/a%2Fb/c"), "{text}");
    for path in ["/files/..%2Fadmin/secret", "/files/a%2F..%2F..%2Fadmin", "/files/.%2Fa", "/files/a%5Cb"] {
        let (status, text) = get(&gateway, path).await;
        assert_eq!(status, 400, "{path}: {text}");
    }
}

#[tokio::test]
async fn path_parameters_do_not_hide_a_segment_from_its_prefix() {
    let open_root = format!("{}  - http: {{ prefix: /, upstream: legacy }}\n", config());
    let gateway = Harness::with_echo_backend(&open_root).await;
    let (status, text) = get(&gateway, "/elsewhere").await;
    assert_eq!((status, echoed_path(&text).as_str()), (200, "/elsewhere"), "{text}");
    // Tomcat and Spring drop `;x` and serve /admin/secret: the /admin/ route's policy applies.
    for path in ["/admin;x/secret", "/admin;jsessionid=1/secret", "/admin;/secret"] {
        let (status, text) = get(&gateway, path).await;
        assert_eq!(status, 401, "{path}: {text}");
    }
}
