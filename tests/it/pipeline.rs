//! The whole policy pipeline, wired from a config, on a transcoded route
//! and a pass-through route side by side: the same JWT policy refuses and
//! admits the same way on both, verified claims reach the backend (as gRPC
//! metadata or as headers) and cannot be spoofed, a claim-keyed rate limit
//! answers 429 with its headers; an API key names its consumer; and two
//! gateways share one budget through a real redis-server, in cleartext and
//! over TLS (`rediss://` with `redis.ca_file`).

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::{
    jwt::{claims, sign},
    support::{
        gateway::{Harness, json_of},
        http_backends::start_echo,
        redis::RedisServer,
    },
};

fn config(secret_file: &std::path::Path, legacy: std::net::SocketAddr, store: &str) -> String {
    format!(
        r#"
listen: 127.0.0.1:0
descriptors: [{{ file: descriptors/demo.pb }}]
upstreams:
  demo: {{ endpoints: ["http://{{backend}}"] }}
  legacy: {{ protocol: http, endpoints: ["http://{legacy}"] }}
policies:
  users:
    jwt:
      secret_file: {secret}
      algorithms: [HS256]
      issuer: https://id.example
      audiences: [api]
      forward_claims: {{ sub: x-user-id }}
  per-user:
    rate_limit: {{ key: "claim:sub", rate: 3/m, burst: 3{store} }}
  partners:
    api_key:
      consumer_header: x-consumer
      keys: [{{ consumer: acme, sha256: "{hash}" }}]
routes:
  - grpc: {{ service: demo.v1.Echo, upstream: demo }}
    policies: [users, per-user]
  - http: {{ prefix: /legacy/, upstream: legacy }}
    policies: [users, per-user]
  - grpc: {{ service: demo.v1.Library, upstream: demo }}
    policies: [partners]
"#,
        secret = secret_file.display(),
        hash = protogate::policy::auth::hash_key("partner-secret"),
    )
}

fn secret_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("jwt.secret");
    std::fs::write(&path, "0123456789abcdef0123456789abcdef-test-only").unwrap();
    path
}

fn token(sub: &str) -> String {
    sign(Algorithm::HS256, "", None, &claims(json!({ "sub": sub })))
}

#[tokio::test]
async fn the_same_policies_behave_the_same_on_both_kinds_of_route() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = start_echo().await;
    let gateway = Harness::with_config(&config(&secret_file(&dir), legacy, "")).await;
    for (path, sub) in [("/v1/echo/x", "alice"), ("/legacy/x", "bob")] {
        let response = gateway.client.get(gateway.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{path}");

        let forged = gateway.client.get(gateway.url(path)).bearer_auth("not.a.token").send().await.unwrap();
        assert_eq!(forged.status(), 401, "{path}");
        assert_eq!(forged.headers()["www-authenticate"], r#"Bearer error="invalid_token""#, "{path}");

        for remaining in ["2", "1", "0"] {
            let ok = gateway.client.get(gateway.url(path)).bearer_auth(token(sub)).send().await.unwrap();
            assert_eq!(ok.status(), 200, "{path}");
            assert_eq!(ok.headers()["ratelimit-limit"], "3", "{path}");
            assert_eq!(ok.headers()["ratelimit-remaining"], remaining, "{path}");
        }
        let limited = gateway.client.get(gateway.url(path)).bearer_auth(token(sub)).send().await.unwrap();
        assert_eq!(limited.status(), 429, "{path}");
        assert!(limited.headers().contains_key("retry-after"), "{path}");
        let (_, body) = json_of(limited).await;
        assert_eq!(body["code"], 8, "{path}");
    }
}

#[tokio::test]
async fn verified_claims_reach_the_backend_and_cannot_be_spoofed() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = start_echo().await;
    let gateway = Harness::with_config(&config(&secret_file(&dir), legacy, "")).await;
    let response = gateway
        .client
        .get(gateway.url("/v1/metadata"))
        .bearer_auth(token("carol"))
        .header("x-user-id", "admin")
        .header("grpc-metadata-x-user-id", "admin")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["received"]["x-user-id"], "carol");

    let response = gateway
        .client
        .get(gateway.url("/legacy/whoami"))
        .bearer_auth(token("dave"))
        .header("x-user-id", "admin")
        .send()
        .await
        .unwrap();
    let (_, echoed) = json_of(response).await;
    assert_eq!(echoed["headers"]["x-user-id"], json!(["dave"]));
}

#[tokio::test]
async fn an_api_key_names_its_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = start_echo().await;
    let gateway = Harness::with_config(&config(&secret_file(&dir), legacy, "")).await;
    let ok = gateway
        .client
        .get(gateway.url("/v1/shelves/1"))
        .header("x-api-key", "partner-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let wrong =
        gateway.client.get(gateway.url("/v1/shelves/1")).header("x-api-key", "guess").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn two_gateways_share_one_budget_through_redis() {
    let Some(redis) = RedisServer::start() else { return };
    let store = format!(", store: redis, redis: {{ url: \"{}\", timeout: 200ms }}", redis.url());
    // Burst 3, shared: alone, each gateway would have let 3 through.
    assert_eq!(allowed_by_two_gateways(&store).await, 3);
}

#[tokio::test]
async fn two_gateways_share_one_budget_through_redis_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let Some((redis, ca)) = crate::support::http_backends::start_tls_redis(dir.path()) else { return };
    let store = |ca_file: &str| {
        format!(", store: redis, redis: {{ url: \"{}\", timeout: 500ms{ca_file} }}", redis.url())
    };
    let trusted = store(&format!(", ca_file: \"{}\"", ca.display()));
    assert_eq!(allowed_by_two_gateways(&trusted).await, 3, "Redis over TLS decided");
    // Without the test CA, Redis is not trusted: each gateway decides alone.
    assert_eq!(allowed_by_two_gateways(&store("")).await, 6, "each gateway's fallback decided");
}

/// Six requests of one user through two gateways in turn, rate limited
/// with `store` (3 per minute); how many passed.
async fn allowed_by_two_gateways(store: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let legacy = start_echo().await;
    let yaml = config(&secret_file(&dir), legacy, store);
    let first = Harness::with_config(&yaml).await;
    let second = Harness::with_config(&yaml).await;
    let mut allowed = 0;
    for round in 0..6 {
        let gateway = if round % 2 == 0 { &first } else { &second };
        let response =
            gateway.client.get(gateway.url("/v1/echo/x")).bearer_auth(token("erin")).send().await.unwrap();
        if response.status() == 200 {
            allowed += 1;
        } else {
            assert_eq!(response.status(), 429);
        }
    }
    allowed
}
