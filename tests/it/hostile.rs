//! Hostile input at the front door: generated paths, queries and bodies
//! never crash the gateway, drop a connection or earn a 5xx for the
//! client's mistake, invalid percent-encodings in every place a route
//! reads the path included, and the gateway keeps serving afterwards.

use crate::support::{
    gateway::{DEMO_AND_LEGACY, Harness},
    lcg::Lcg,
    raw_http::{RawConnection, get},
};

/// Percent-encodings that are invalid, or decode to bytes that are not UTF-8.
const BAD_ESCAPES: &[&str] = &[
    "%FF",
    "%ff%fe",
    "%",
    "%F",
    "%ZZ",
    "%g0",
    "a%",
    "%%",
    "%C3",
    "%C3%28",
    "%E2%82",
    "%ED%A0%80",
    "%F8%88%80%80%80",
];

/// Where a route reads the path: a one-segment capture, a multi-segment
/// capture, a literal, a verb, a capture before a literal, a pass-through
/// prefix, and a query value; `X` stands for the escape.
const PLACES: &[&str] = &[
    "/v1/echo/X",
    "/v1/files/aX/bX",
    "/v1/X",
    "/v1/echo/a:X",
    "/v1/projects/X/items/X",
    "/v1/echo/a/child/X",
    "/v1/shelves/X/books",
    "/legacy/X",
    "/v1/echo/a?nested.firstName=X",
];

pub const PATH_PIECES: &[&str] = &[
    "/",
    "//",
    "v1",
    "echo",
    "shelves",
    "books",
    "1",
    "-1",
    "99999999999999999999",
    ".",
    "..",
    "%2F",
    "%2f",
    "%",
    "%F",
    "%FF",
    "%C3%A9",
    "é",
    ":",
    ":move",
    ":shout",
    "*",
    "**",
    "{",
    "}",
    "+",
    "%00",
    "%2E%2E",
    "a b",
    "~",
];

pub const QUERY_PIECES: &[&str] = &[
    "i64=1",
    "i64=x",
    "i64=99999999999999999999",
    "flag=yes",
    "color=7",
    "color=RED",
    "labels[a]=b",
    "labels[=b",
    "labels]=",
    "codes[x]=1",
    "codes[1]=a",
    "nested.child.child.firstName=z",
    "nested..x=1",
    ".=1",
    "=",
    "&",
    "a",
    "items.count=1",
    "ts=yesterday",
    "ttl=1",
    "mask=a,,b",
    "blob=!!",
    "wrapped=1.5",
    "dbl=NaN",
    "flt=1e99",
    "%ZZ=1",
    "u64=-1",
    "s32=2147483648",
    "numbers=1&numbers=x",
];

#[tokio::test]
async fn generated_paths_and_queries_never_get_a_5xx() {
    let gateway = Harness::start().await;
    let mut random = Lcg(0x5eed);
    let mut sent = 0;
    for _ in 0..400 {
        let mut path = String::from("/v1/");
        for _ in 0..(1 + random.next() % 6) {
            path.push_str(random.pick(PATH_PIECES));
        }
        let mut query = Vec::new();
        for _ in 0..(random.next() % 4) {
            query.push(random.pick(QUERY_PIECES));
        }
        let url = format!("{}?{}", gateway.url(&path), query.join("&"));
        let method = random.pick(&["GET", "POST", "PATCH", "DELETE", "SEARCH"]);
        let request = gateway.client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), &url);
        // A URL the client refuses to build never leaves: skip it. Any
        // request that is built must get an answer.
        let Ok(request) = request.body("{}").build() else { continue };
        let response = gateway
            .client
            .execute(request)
            .await
            .unwrap_or_else(|error| panic!("{method} {url}: no answer: {error:?}"));
        sent += 1;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.as_u16() < 500, "{method} {url} -> {status}: {body}");
        assert!(body.starts_with('{'), "{method} {url} -> {status}: {body}");
    }
    assert!(sent > 300, "only {sent} generated requests could be sent");
    let (status, _) = gateway.get_json("/v1/echo/still-alive").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn invalid_percent_encodings_are_answered_in_every_place() {
    let yaml = format!(
        "{DEMO_AND_LEGACY}routes:\n  - grpc: {{ service: demo.v1.Echo, upstream: demo }}\n\
         \x20 - grpc: {{ service: demo.v1.Library, upstream: demo }}\n\
         \x20 - http: {{ prefix: /legacy/, upstream: legacy }}\n"
    );
    let gateway = Harness::with_echo_backend(&yaml).await;
    // One keep-alive connection for all: a panic would end it.
    let mut connection = RawConnection::connect(gateway.addr()).await;
    for place in PLACES {
        for escape in BAD_ESCAPES {
            let path = place.replace('X', escape);
            let response = connection
                .exchange(&get(&path))
                .await
                .unwrap_or_else(|failure| panic!("GET {path}: no answer: {failure:?}"));
            let body = response.text();
            assert!(response.status < 500, "GET {path} -> {}: {body}", response.status);
            if !place.starts_with("/legacy/") {
                assert!(body.starts_with('{'), "GET {path} -> {}: {body}", response.status);
            }
        }
    }
    let response = connection.exchange(&get("/v1/echo/still-alive")).await.unwrap();
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_not_a_stack_overflow() {
    let gateway = Harness::start().await;
    let depth = 20_000;
    let objects = "{\"child\":".repeat(depth) + &"}".repeat(depth);
    let body = format!("{{\"nested\":{objects}}}");
    let (status, reply) = gateway.send_json("POST", "/v1/echo", &body).await;
    assert_eq!(status, 400, "{reply}");
    let arrays = format!("{{\"tags\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    let (status, _) = gateway.send_json("POST", "/v1/echo", &arrays).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_400s() {
    let gateway = Harness::start().await;
    for body in
        ["\u{0}", "[]", "\"text\"", "12", "null x", "{\"i32\":\"big\"}", "{\"i32\":1e100}", "\u{feff}{}"]
    {
        let (status, reply) = gateway.send_json("POST", "/v1/echo", body).await;
        assert_eq!(status, 400, "{body:?}: {reply}");
    }
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let gateway = Harness::start().await;
    let response = gateway
        .client
        .get(gateway.url("/v1/echo/x"))
        .header("x-big", "a".repeat(100 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let (status, _) = gateway.get_json("/v1/echo/still-alive").await;
    assert_eq!(status, 200);
}
