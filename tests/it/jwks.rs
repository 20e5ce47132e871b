//! A JWKS URL served by a real HTTP server on 127.0.0.1:0 that the tests
//! change: a rotation is picked up without restart (refetch on an unknown
//! `kid`, at most once per cool-down, 5s by default), a burst of unknown
//! kids costs a bounded number of fetches, a failing server keeps the last
//! good keys, a failed first fetch is retried on the cool-down, a withdrawn
//! key's tokens stop passing, a token's `jku` is never fetched.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, Header, encode};
use protogate::policy::auth::{AuthError, JwtPolicy};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::jwt::{bearer, claims, encoding_key, jwk, policy, sign};
use crate::support::poll::eventually;

/// What the JWKS server answers, and the paths it was asked for.
#[derive(Default)]
struct Served {
    status: Option<StatusCode>,
    body: String,
    hits: Vec<String>,
}

#[derive(Clone)]
pub(super) struct JwksServer {
    pub(super) addr: SocketAddr,
    served: Arc<Mutex<Served>>,
}

impl JwksServer {
    pub(super) async fn start(keys: Vec<Value>) -> Self {
        let served = Arc::new(Mutex::new(Served::default()));
        let server = Self { addr: ([127, 0, 0, 1], 0).into(), served };
        server.serve_keys(keys);
        let listener = TcpListener::bind(server.addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = server.served.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: http::Request<Incoming>| {
                        let mut served = shared.lock().unwrap();
                        served.hits.push(request.uri().path().to_owned());
                        let mut response = Response::new(Full::new(Bytes::from(served.body.clone())));
                        *response.status_mut() = served.status.unwrap_or(StatusCode::OK);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, ..server }
    }

    fn serve_keys(&self, keys: Vec<Value>) {
        let mut served = self.served.lock().unwrap();
        served.status = None;
        served.body = json!({ "keys": keys }).to_string();
    }

    fn fail(&self, status: StatusCode, body: &str) {
        let mut served = self.served.lock().unwrap();
        served.status = Some(status);
        served.body = body.to_owned();
    }

    /// Every path asked for, in order.
    pub(super) fn paths(&self) -> Vec<String> {
        self.served.lock().unwrap().hits.clone()
    }

    pub(super) fn hits(&self, path: &str) -> usize {
        self.served.lock().unwrap().hits.iter().filter(|hit| *hit == path).count()
    }

    async fn policy(&self, timing: &str) -> JwtPolicy {
        policy(&format!("{{ jwks: {{ url: http://{}/jwks.json, {timing} }}, audiences: [api] }}", self.addr))
            .await
    }
}

pub(super) fn k1() -> Value {
    jwk(Algorithm::RS256, "rsa.key", "k1")
}

fn k2() -> Value {
    jwk(Algorithm::RS256, "rsa2.key", "k2")
}

/// A fresh token (fresh claims, so never a cache hit) signed with `file` under `kid`.
fn token(file: &str, kid: &str) -> String {
    sign(Algorithm::RS256, file, Some(kid), &claims(json!({"jti": unique_id()})))
}

fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_the_cooldown_has_passed() {
    // Signed before the clock starts: RSA signing in a debug build on a
    // loaded machine can take longer than the cool-down itself.
    let (old_key, new_key) = (token("rsa.key", "k1"), token("rsa2.key", "k2"));
    // A second token for the old key, so the last check verifies it afresh.
    let old_key_again = token("rsa.key", "k1");
    let unknown: Vec<String> = ["x1", "x2", "x3", "x4"].iter().map(|kid| token("rsa2.key", kid)).collect();
    let server = JwksServer::start(vec![k1()]).await;
    let policy = server.policy("cooldown: 2s, refresh: 1h").await;
    assert_eq!(server.hits("/jwks.json"), 1, "fetched once at start");
    policy.authenticate(&mut bearer(&old_key)).await.unwrap();

    server.serve_keys(vec![k1(), k2()]);
    // Within the cool-down of the start-up fetch: no fetch, the kid is unknown.
    let early = policy.authenticate(&mut bearer(&new_key)).await;
    assert!(matches!(early, Err(AuthError::Invalid(..))), "{early:?}");
    assert_eq!(server.hits("/jwks.json"), 1);

    // Once the cool-down has passed, one refetch; every try before it costs none.
    eventually("k2 to be accepted", async || policy.authenticate(&mut bearer(&new_key)).await.is_ok()).await;
    assert_eq!(server.hits("/jwks.json"), 2, "one refetch for the new kid");
    let principal = policy.authenticate(&mut bearer(&new_key)).await.unwrap();
    assert_eq!(principal.subject.as_deref(), Some("user-1"));

    // A spray of unknown kids costs no fetch within the cool-down.
    for token in &unknown {
        let result = policy.authenticate(&mut bearer(token)).await;
        assert!(matches!(result, Err(AuthError::Invalid(..))), "{result:?}");
    }
    assert_eq!(server.hits("/jwks.json"), 2);
    policy.authenticate(&mut bearer(&old_key_again)).await.unwrap();
}

#[tokio::test]
async fn a_failing_server_keeps_the_last_good_keys() {
    let server = JwksServer::start(vec![k1()]).await;
    let policy = server.policy("cooldown: 100ms, refresh: 200ms").await;
    policy.authenticate(&mut bearer(&token("rsa.key", "k1"))).await.unwrap();

    server.fail(StatusCode::INTERNAL_SERVER_ERROR, "down");
    eventually("two failed refreshes", async || server.hits("/jwks.json") >= 3).await;
    // An unknown kid triggers a fetch that fails: refused, and k1 still works.
    let unknown = policy.authenticate(&mut bearer(&token("rsa2.key", "k2"))).await;
    assert!(matches!(unknown, Err(AuthError::Invalid(..))), "{unknown:?}");
    policy.authenticate(&mut bearer(&token("rsa.key", "k1"))).await.unwrap();

    server.fail(StatusCode::OK, "{ not json");
    let before = server.hits("/jwks.json");
    eventually("two refreshes of bad JSON", async || server.hits("/jwks.json") >= before + 2).await;
    policy.authenticate(&mut bearer(&token("rsa.key", "k1"))).await.unwrap();
}

#[tokio::test]
async fn a_withdrawn_key_stops_passing_even_for_a_cached_token() {
    let server = JwksServer::start(vec![k1(), k2()]).await;
    let policy = server.policy("cooldown: 100ms, refresh: 200ms").await;
    let cached = token("rsa.key", "k1");
    policy.authenticate(&mut bearer(&cached)).await.unwrap();
    policy.authenticate(&mut bearer(&cached)).await.unwrap();

    server.serve_keys(vec![k2()]);
    eventually("the cached token to be refused", async || {
        matches!(policy.authenticate(&mut bearer(&cached)).await, Err(AuthError::Invalid(..)))
    })
    .await;
    policy.authenticate(&mut bearer(&token("rsa2.key", "k2"))).await.unwrap();
}

#[tokio::test]
async fn keys_unavailable_at_start_are_a_503_until_the_server_answers() {
    let server = JwksServer::start(vec![]).await;
    server.fail(StatusCode::SERVICE_UNAVAILABLE, "");
    let policy = server.policy("cooldown: 200ms, refresh: 1h").await;
    let result = policy.authenticate(&mut bearer(&token("rsa.key", "k1"))).await;
    assert!(matches!(result, Err(AuthError::Unavailable(_))), "{result:?}");

    server.serve_keys(vec![k1()]);
    // With no keys yet, the refresh task retries at the cool-down.
    eventually("k1 to be accepted", async || {
        policy.authenticate(&mut bearer(&token("rsa.key", "k1"))).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn a_key_url_named_by_the_token_is_never_fetched() {
    let server = JwksServer::start(vec![k1()]).await;
    let policy = server.policy("cooldown: 100ms, refresh: 1h").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("attacker".to_owned());
    header.jku = Some(format!("http://{}/attacker-jwks.json", server.addr));
    let forged = encode(&header, &claims(json!({})), &encoding_key(Algorithm::RS256, "rsa2.key")).unwrap();
    let result = policy.authenticate(&mut bearer(&forged)).await;
    assert!(matches!(result, Err(AuthError::Invalid(..))), "{result:?}");
    assert_eq!(server.hits("/attacker-jwks.json"), 0);
}

#[tokio::test]
async fn dropping_the_policy_stops_its_refresh_task() {
    let server = JwksServer::start(vec![k1()]).await;
    let policy = server.policy("cooldown: 100ms, refresh: 100ms").await;
    eventually("a refresh", async || server.hits("/jwks.json") >= 2).await;
    drop(policy);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = server.hits("/jwks.json");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.hits("/jwks.json"), after_drop);
}

/// The default cool-down between fetches for unknown kids, as documented.
const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);

/// Authenticates a `file`/`kid` token every 100ms until it passes (a
/// refused token is not cached, so one is signed); the time it took, or
/// `None` past `within`.
async fn accepted_within(policy: &JwtPolicy, file: &str, kid: &str, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let token = token(file, kid);
    while start.elapsed() < within {
        if policy.authenticate(&mut bearer(&token)).await.is_ok() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test]
async fn a_new_kid_is_accepted_within_the_default_cooldown() {
    let server = JwksServer::start(vec![k1()]).await;
    let policy = server.policy("refresh: 1h").await;
    server.serve_keys(vec![k1(), k2()]);
    let took = accepted_within(&policy, "rsa2.key", "k2", DEFAULT_COOLDOWN * 5).await;
    assert!(took.is_some(), "k2 still refused after {:?}", DEFAULT_COOLDOWN * 5);
}

#[tokio::test]
async fn a_failed_first_fetch_is_retried_on_the_default_cooldown() {
    let server = JwksServer::start(vec![]).await;
    server.fail(StatusCode::SERVICE_UNAVAILABLE, "");
    let policy = server.policy("refresh: 1h").await;
    server.serve_keys(vec![k1()]);
    let took = accepted_within(&policy, "rsa.key", "k1", DEFAULT_COOLDOWN * 5).await;
    assert!(took.is_some(), "k1 still refused after {:?}", DEFAULT_COOLDOWN * 5);
}

#[tokio::test]
async fn a_burst_of_unknown_kids_costs_a_bounded_number_of_fetches() {
    let server = JwksServer::start(vec![k1()]).await;
    let cooldown = Duration::from_millis(500);
    let policy = server.policy("cooldown: 500ms, refresh: 1h").await;
    let start = Instant::now();
    // Unsigned look-alikes: the kid is looked up before any signature is
    // checked, and signing 300 tokens would only load the machine.
    let burst = (0..300).map(|i| {
        let policy = &policy;
        async move { policy.authenticate(&mut bearer(&unsigned_token(&format!("unknown-{i}")))).await }
    });
    let results = futures_util::future::join_all(burst).await;
    let elapsed = start.elapsed();
    assert!(results.iter().all(|r| matches!(r, Err(AuthError::Invalid(..)))), "{:?}", results.first());
    // The start-up fetch, then at most one per cool-down that began during the burst.
    let allowed = 1 + 1 + (elapsed.as_millis() / cooldown.as_millis()) as usize;
    let fetches = server.hits("/jwks.json");
    assert!(fetches <= allowed, "{fetches} fetches for 300 unknown kids in {elapsed:?}");
    policy.authenticate(&mut bearer(&token("rsa.key", "k1"))).await.unwrap();
}

/// A token whose header names `kid` and whose signature is garbage.
fn unsigned_token(kid: &str) -> String {
    use base64::Engine as _;
    let encode = |json: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string());
    let header = encode(json!({ "alg": "RS256", "typ": "JWT", "kid": kid }));
    let claims = encode(claims(json!({})));
    format!("{header}.{claims}.c2lnbmF0dXJl")
}
