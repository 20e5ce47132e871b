//! Bounds on what one transcoded request may make the gateway parse: the
//! nesting depth of a JSON body (`limits.max_json_depth`, 64 by default,
//! checked over the bytes before any message is built, so an ignored
//! unknown field is bounded too), the number of query parameters
//! (`limits.max_query_params`) and the length of one value
//! (`limits.max_query_value_bytes`). Each refusal is a 400 naming its limit.

use serde_json::Value;

use crate::support::gateway::{DEMO_CONFIG, Harness};

/// `{"unknown": [[...]]}` nested `depth` levels in all (the outer object is one).
fn nested_unknown(depth: usize) -> String {
    format!("{{\"unknown\":{}{}}}", "[".repeat(depth - 1), "]".repeat(depth - 1))
}

fn message(reply: &Value) -> &str {
    reply["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_json_body_deeper_than_the_limit_is_a_400_naming_it() {
    let gateway = Harness::start().await;
    let (status, reply) = gateway.send_json("POST", "/v1/echo", &nested_unknown(64)).await;
    assert_eq!(status, 200, "{reply}");
    for depth in [65, 10_000] {
        let (status, reply) = gateway.send_json("POST", "/v1/echo", &nested_unknown(depth)).await;
        assert_eq!(status, 400, "{depth}: {reply}");
        assert!(
            message(&reply).contains("64") && message(&reply).contains("limits.max_json_depth"),
            "{reply}"
        );
    }
    // A known recursive field, and a body that is one field's value, are bounded alike.
    let deep = format!("{{\"nested\":{}{}}}", "{\"child\":".repeat(70), "}".repeat(70));
    let (status, reply) = gateway.send_json("POST", "/v1/echo", &deep).await;
    assert_eq!(status, 400, "{reply}");
    let child = format!("{}{}", "{\"child\":".repeat(70), "}".repeat(70));
    let (status, reply) = gateway.send_json("PATCH", "/v1/echo/x", &child).await;
    assert_eq!(status, 400, "{reply}");
    assert!(message(&reply).contains("limits.max_json_depth"), "{reply}");
}

#[tokio::test]
async fn brackets_inside_strings_do_not_count() {
    let gateway = Harness::start().await;
    let text = format!("{}\\\"\\\\{}", "[{".repeat(100), "]}".repeat(100));
    let body = format!("{{\"id\":\"{text}\",\"tags\":[\"[[[[\"]}}");
    let (status, reply) = gateway.send_json("POST", "/v1/echo", &body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["id"].as_str().map(str::len), Some(402));
}

#[tokio::test]
async fn the_depth_limit_is_configurable() {
    let yaml = format!("{DEMO_CONFIG}limits: {{ max_json_depth: 8 }}\n");
    let gateway = Harness::with_config(&yaml).await;
    let (status, reply) = gateway.send_json("POST", "/v1/echo", &nested_unknown(8)).await;
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = gateway.send_json("POST", "/v1/echo", &nested_unknown(9)).await;
    assert_eq!(status, 400, "{reply}");
    assert!(message(&reply).contains("deeper than 8"), "{reply}");
}

#[tokio::test]
async fn too_many_query_parameters_are_a_400_naming_the_limit() {
    let gateway = Harness::start().await;
    let query = |count: usize| (0..count).map(|i| format!("p{i}=1")).collect::<Vec<_>>().join("&");
    let (status, reply) = gateway.get_json(&format!("/v1/echo/x?{}", query(256))).await;
    assert_eq!(status, 200, "{reply}");
    for count in [257, 5_000] {
        let (status, reply) = gateway.get_json(&format!("/v1/echo/x?{}", query(count))).await;
        assert_eq!(status, 400, "{count}: {reply}");
        assert!(
            message(&reply).contains("256") && message(&reply).contains("limits.max_query_params"),
            "{reply}"
        );
    }
}

#[tokio::test]
async fn a_query_value_longer_than_the_limit_is_a_400_naming_it() {
    let gateway = Harness::start().await;
    let (status, reply) = gateway.get_json(&format!("/v1/echo/x?tags={}", "a".repeat(8192))).await;
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = gateway.get_json(&format!("/v1/echo/x?tags={}", "a".repeat(8193))).await;
    assert_eq!(status, 400, "{reply}");
    assert!(message(&reply).contains("limits.max_query_value_bytes"), "{reply}");

    let yaml = format!("{DEMO_CONFIG}limits: {{ max_query_params: 2, max_query_value_bytes: 4 }}\n");
    let small = Harness::with_config(&yaml).await;
    let (status, reply) = small.get_json("/v1/echo/x?tags=abcd&tags=b").await;
    assert_eq!(status, 200, "{reply}");
    let (status, _) = small.get_json("/v1/echo/x?tags=abcde").await;
    assert_eq!(status, 400);
    let (status, _) = small.get_json("/v1/echo/x?a=1&b=2&c=3").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_depth_past_the_parsers_own_limit_is_a_config_error() {
    for depth in ["0", "129"] {
        let yaml = format!("{DEMO_CONFIG}limits: {{ max_json_depth: {depth} }}\n");
        let config = protogate::config::Config::from_yaml(&yaml, "t").unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let errors = protogate::compile::compile(&config, root, &[]).await.unwrap_err().to_string();
        assert!(errors.contains("limits.max_json_depth: must be from 1 to 128"), "{errors}");
    }
}
