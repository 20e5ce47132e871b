//! The classic attacks, end to end against the real gateway, each refused
//! (and each refusal logged under `protogate::refusal`): JWT forgeries,
//! path traversal and encoded-separator bypasses, request smuggling shapes,
//! oversized and deeply nested JSON, invalid UTF-8 in JSON and headers,
//! thousands of query parameters, and CR/LF in a backend's gRPC metadata.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{
    jwks::{JwksServer, k1},
    jwt::{claims, jwk, key_file, now, sign},
};
use crate::support::{
    captured_log::CapturedLog,
    gateway::{DEMO_AND_LEGACY, Harness},
    raw_h2::start_crlf_backend,
};

/// After [`DEMO_AND_LEGACY`].
const POLICIES_AND_ROUTES: &str = r#"
policies:
  users:
    jwt:
      jwks: { url: "http://{jwks}/jwks.json", refresh: 1h }
      issuer: https://id.example
      audiences: [api]
      require_exp: true
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
  - grpc: { service: demo.v1.Library, upstream: demo }
    policies: [users]
  - http: { prefix: /public/, upstream: legacy }
  - http: { prefix: /admin/, upstream: legacy }
    policies: [users]
"#;

struct Target {
    gateway: Harness,
    jwks: JwksServer,
}

async fn start() -> Target {
    let jwks = JwksServer::start(vec![k1()]).await;
    let config = format!("{DEMO_AND_LEGACY}{POLICIES_AND_ROUTES}").replace("{jwks}", &jwks.addr.to_string());
    let gateway = Harness::with_echo_backend(&config).await;
    Target { gateway, jwks }
}

impl Target {
    async fn status(&self, path: &str, token: &str) -> u16 {
        let request = self.gateway.client.get(self.gateway.url(path)).bearer_auth(token);
        request.send().await.unwrap().status().as_u16()
    }

    /// Raw bytes to the gateway, and the raw answer (the gateway may close).
    async fn raw(&self, request: &[u8]) -> String {
        let addr = self.gateway.url("").trim_start_matches("http://").to_owned();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer));
        assert!(read.await.is_ok(), "no answer within 10s");
        String::from_utf8_lossy(&answer).into_owned()
    }
}

fn status_of(answer: &str) -> u16 {
    answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// A token signed with the attacker's key (rsa2.key) under `header`.
fn forged(mut header: Header, kid: &str) -> String {
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(&key_file("rsa2.key")).unwrap();
    encode(&header, &claims(json!({})), &key).unwrap()
}

#[tokio::test]
async fn forged_tokens_are_refused_and_logged() {
    let log = CapturedLog::start();
    let target = start().await;
    let good = sign(Algorithm::RS256, "rsa.key", Some("k1"), &claims(json!({})));
    assert_eq!(target.status("/v1/shelves/1", &good).await, 200);
    assert_eq!(target.status("/admin/x", &good).await, 200);

    let mut with_urls = Header::new(Algorithm::RS256);
    with_urls.jku = Some(format!("http://{}/attacker-jwks.json", target.jwks.addr));
    with_urls.x5u = Some(format!("http://{}/attacker.pem", target.jwks.addr));
    let mut with_jwk = Header::new(Algorithm::RS256);
    with_jwk.jwk = Some(serde_json::from_value(jwk(Algorithm::RS256, "rsa2.key", "k1")).unwrap());
    let public_pem_as_secret = EncodingKey::from_secret(&key_file("rsa.pub"));
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("k1".into());
    let mut expired = claims(json!({}));
    expired["exp"] = json!(now() - 3600);
    let mut no_exp = claims(json!({}));
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let huge = format!("{good}{}", "A".repeat(40_000));

    let forgeries = [
        ("alg none", format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims(json!({}))))),
        ("alg None", format!("{}.{}.", b64(&json!({"alg": "None", "kid": "k1"})), b64(&claims(json!({}))))),
        ("HS256 with the RSA public key", encode(&hs, &claims(json!({})), &public_pem_as_secret).unwrap()),
        ("kid path traversal", forged(Header::new(Algorithm::RS256), "../../../../../../dev/null")),
        ("kid SQL", forged(Header::new(Algorithm::RS256), "k1' OR '1'='1")),
        ("kid SQL comment", forged(Header::new(Algorithm::RS256), "x'; DROP TABLE keys; --")),
        ("attacker key under k1", forged(Header::new(Algorithm::RS256), "k1")),
        ("jku and x5u", forged(with_urls, "attacker")),
        ("embedded jwk", forged(with_jwk, "k1")),
        ("expired", sign(Algorithm::RS256, "rsa.key", Some("k1"), &expired)),
        ("no exp", sign(Algorithm::RS256, "rsa.key", Some("k1"), &no_exp)),
        ("tampered signature", tampered),
        ("huge", huge),
        ("not a JWT", "a.b.c".to_owned()),
    ];
    for (name, token) in &forgeries {
        assert_eq!(target.status("/v1/shelves/1", token).await, 401, "{name} on a transcoded route");
        assert_eq!(target.status("/admin/x", token).await, 401, "{name} on a pass-through route");
    }
    assert!(target.jwks.paths().iter().all(|path| path == "/jwks.json"), "{:?}", target.jwks.paths());
    assert_eq!(
        log.text()
            .lines()
            .filter(|line| line.contains("request refused") && line.contains("status=401 "))
            .count(),
        2 * forgeries.len(),
        "every refusal is logged once: {}",
        log.text()
    );

    // Over the head limit: refused by the server itself.
    let response = target.gateway.client.get(target.gateway.url("/admin/x")).bearer_auth("A".repeat(70_000));
    assert_eq!(response.send().await.unwrap().status(), 431);
}

#[tokio::test]
async fn traversal_and_encoded_separators_do_not_reach_a_protected_prefix() {
    let target = start().await;
    let get =
        |path: &str| format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").into_bytes();
    for path in
        ["/public/../admin/x", "/public/%2e%2E/admin/x", "/public/./../admin/x", "//admin//x", "/admin;x/x"]
    {
        let answer = target.raw(&get(path)).await;
        assert_eq!(status_of(&answer), 401, "{path}: {answer}");
    }
    for path in [
        "/public/..%2Fadmin/x",
        "/public/..%2fadmin/x",
        "/public/..%5Cadmin/x",
        "/public/..\\admin/x",
        "/public/..;/admin/x",
        "/public/..;a=b/admin/x",
        "/public/%2e%2e;/admin/x",
        "/public/..%00/admin/x",
    ] {
        let answer = target.raw(&get(path)).await;
        assert_eq!(status_of(&answer), 400, "{path}: {answer}");
    }
}

#[tokio::test]
async fn smuggling_shapes_are_refused() {
    let target = start().await;
    for (name, head) in [
        ("two different lengths", "content-length: 4\r\ncontent-length: 5\r\n"),
        ("a signed length", "content-length: +4\r\n"),
        ("a length list", "content-length: 4, 5\r\n"),
        ("space before the colon", "content-length : 4\r\n"),
        ("an unknown coding last", "transfer-encoding: chunked, identity\r\n"),
        ("an obs-folded coding", "transfer-encoding: identity\r\n chunked\r\n"),
        ("a length, then chunked", "content-length: 4\r\ntransfer-encoding: chunked\r\n"),
        ("chunked, then a length", "transfer-encoding: chunked\r\ncontent-length: 4\r\n"),
    ] {
        let request = format!(
            "POST /public/x HTTP/1.1\r\nhost: x\r\n{head}\r\n0\r\n\r\nGET /admin/x HTTP/1.1\r\nhost: x\r\n\r\n"
        );
        let answer = target.raw(request.as_bytes()).await;
        assert_eq!(status_of(&answer), 400, "{name}: {answer}");
        assert!(!answer.contains("\"method\""), "{name} reached the backend: {answer}");
    }
}

#[tokio::test]
async fn oversized_deep_and_invalid_utf8_json_is_refused() {
    let target = start().await;
    let gateway = &target.gateway;
    let big = format!("{{\"id\":\"{}\"}}", "a".repeat(5 << 20));
    assert_eq!(gateway.send_json("POST", "/v1/echo", &big).await.0, 413);
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(gateway.send_json("POST", "/v1/echo", &deep).await.0, 400);
    for body in [&b"{\"id\":\"\xff\"}"[..], b"{\"unknown\":\"\xc3\x28\"}", b"{\"\xff\":1}"] {
        let request = gateway.client.post(gateway.url("/v1/echo")).header("content-type", "application/json");
        let response = request.body(body.to_vec()).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body:?}");
    }
}

#[tokio::test]
async fn invalid_utf8_in_headers_is_refused_or_harmless() {
    let target = start().await;
    let request = |header: &[u8], path: &str| {
        let mut bytes = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n").into_bytes();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(b"\r\n\r\n");
        bytes
    };
    let answer = target.raw(&request(b"authorization: Bearer \xff\xfe.\xc3\x28.x", "/admin/x")).await;
    assert_eq!(status_of(&answer), 401, "{answer}");
    let answer = target.raw(&request(b"authorization: Bearer \xff\xfe.\xc3\x28.x", "/v1/shelves/1")).await;
    assert_eq!(status_of(&answer), 401, "{answer}");
    for header in [&b"grpc-metadata-x-note: caf\xe9"[..], b"x-forwarded-for: \xff", b"origin: http://\xff"] {
        let answer = target.raw(&request(header, "/v1/echo/x")).await;
        let status = status_of(&answer);
        assert!((200..500).contains(&status), "{header:?}: {answer}");
    }
}

#[tokio::test]
async fn thousands_of_query_parameters_are_refused() {
    let target = start().await;
    let query: Vec<String> = (0..5_000).map(|i| format!("p{i}=1")).collect();
    let (status, reply) = target.gateway.get_json(&format!("/v1/echo/x?{}", query.join("&"))).await;
    assert_eq!(status, 400, "{reply}");
}

#[tokio::test]
async fn crlf_in_backend_metadata_never_reaches_the_client() {
    let backend = start_crlf_backend().await;
    let yaml = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  hostile: { endpoints: ["http://{hostile}"] }
routes:
  - grpc: { service: demo.v1.Echo, upstream: hostile }
"#;
    let gateway = Harness::with_config(&yaml.replace("{hostile}", &backend.to_string())).await;
    let target = Target { gateway, jwks: JwksServer::start(vec![]).await };
    let transcoded = target.raw(b"GET /v1/echo/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    let native = target
        .raw(
            b"POST /demo.v1.Echo/Echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/grpc\r\n\
              te: trailers\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0",
        )
        .await;
    for answer in [&transcoded, &native] {
        assert_ne!(status_of(answer), 0, "{answer}");
        assert!(!answer.to_ascii_lowercase().contains("injected"), "{answer}");
    }
    assert!(status_of(&transcoded) >= 500, "{transcoded}");
}
