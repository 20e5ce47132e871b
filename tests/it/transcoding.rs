//! End to end through the gateway to the Echo backend: every HTTP method
//! kind, additional bindings, verbs, nested and multi-segment variables,
//! query binding, body selectors and response_body.

use serde_json::json;

use crate::support::gateway::Harness;

#[tokio::test]
async fn get_binds_the_path_and_the_query() {
    let gateway = Harness::start().await;
    let (status, body) = gateway
        .get_json("/v1/echo/abc?i64=-9007199254740993&u64=18446744073709551615&flag=true&color=GREEN&tags=a&tags=b&labels[k]=v&nested.firstName=Ada&ts=2017-01-15T01:30:15Z&ttl=1.5s&wrapped=7&blob=aGk")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "abc");
    assert_eq!(body["i64"], "-9007199254740993");
    assert_eq!(body["u64"], "18446744073709551615");
    assert_eq!(body["flag"], true);
    assert_eq!(body["color"], "GREEN");
    assert_eq!(body["tags"], json!(["a", "b"]));
    assert_eq!(body["labels"], json!({"k": "v"}));
    assert_eq!(body["nested"]["firstName"], "Ada");
    assert_eq!(body["ts"], "2017-01-15T01:30:15Z");
    assert_eq!(body["ttl"], "1.500s");
    assert_eq!(body["wrapped"], "7");
    assert_eq!(body["blob"], "aGk=");
}

#[tokio::test]
async fn output_emits_defaults_in_lower_camel_case() {
    let gateway = Harness::start().await;
    let (_, body) = gateway.get_json("/v1/echo/x").await;
    assert_eq!(body["i32"], 0);
    assert_eq!(body["i64"], "0");
    assert_eq!(body["color"], "COLOR_UNSPECIFIED");
    assert_eq!(body["tags"], json!([]));
    assert_eq!(body["labels"], json!({}));
    assert!(body.get("nested").is_none(), "unset messages are left out: {body}");
}

#[tokio::test]
async fn post_with_the_whole_body() {
    let gateway = Harness::start().await;
    let (status, body) = gateway
        .send_json("POST", "/v1/echo", r#"{"id":"p","i32":5,"items":[{"count":"2"}],"unknown":1}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "p");
    assert_eq!(body["i32"], 5);
    assert_eq!(body["items"][0]["count"], "2");
}

#[tokio::test]
async fn put_binds_a_body_field_and_the_path() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.send_json("PUT", "/v1/echo/k?i32=3", r#"{"firstName":"Grace"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "k");
    assert_eq!(body["i32"], 3);
    assert_eq!(body["nested"]["firstName"], "Grace");
}

#[tokio::test]
async fn patch_binds_a_nested_body_field() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.send_json("PATCH", "/v1/echo/k", r#"{"firstName":"Child"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["nested"]["child"]["firstName"], "Child");
}

#[tokio::test]
async fn delete_and_custom_methods() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.send_json("DELETE", "/v1/echo/gone", "").await;
    assert_eq!((status, body["id"].clone()), (200, json!("gone")));
    let (status, body) = gateway.send_json("SEARCH", "/v1/echo?id=found", "").await;
    assert_eq!((status, body["id"].clone()), (200, json!("found")));
}

#[tokio::test]
async fn nested_and_multi_segment_variables() {
    let gateway = Harness::start().await;
    let (_, body) = gateway.get_json("/v1/echo/a/child/Bob").await;
    assert_eq!(body["id"], "a");
    assert_eq!(body["nested"]["child"]["firstName"], "Bob");
    let (_, body) = gateway.get_json("/v1/projects/p%201/items/i2").await;
    assert_eq!(body["id"], "projects/p 1/items/i2");
    let (_, body) = gateway.get_json("/v1/files/dir/sub%2Fdir/file.txt").await;
    assert_eq!(body["id"], "dir/sub%2Fdir/file.txt");
}

#[tokio::test]
async fn custom_verb() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.send_json("POST", "/v1/echo/loud:shout", r#"{"i32":1}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "loud");
    assert_eq!(body["i32"], 1);
}

#[tokio::test]
async fn response_body_renders_one_field() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.get_json("/v1/nested/x?nested.firstName=Only&nested.count=4").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"firstName": "Only", "count": "4"}));
}

#[tokio::test]
async fn http_body_in_both_directions() {
    let gateway = Harness::start().await;
    let response = gateway
        .client
        .post(gateway.url("/v1/upload"))
        .header("content-type", "image/png")
        .body(vec![0u8, 159, 146, 150])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"contentType": "image/png", "size": "4"}));

    let response = gateway.client.get(gateway.url("/v1/download/world")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(response.text().await.unwrap(), "hello, world");
}

#[tokio::test]
async fn an_all_default_reply_is_still_a_reply() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.get_json("/v1/sleep/0").await;
    assert_eq!((status, body), (200, json!({})));
}

#[tokio::test]
async fn json_switches_per_route() {
    let gateway = Harness::with_config(
        r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams: { demo: { endpoints: ["http://{backend}"] } }
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
    json: { use_proto_names: true, omit_defaults: true, enums_as_numbers: true, reject_unknown_fields: true }
"#,
    )
    .await;
    let (status, body) = gateway.get_json("/v1/echo/x?color=BLUE&nested.first_name=N").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": "x", "color": 3, "nested": {"first_name": "N"}}));
    let (status, body) = gateway.send_json("POST", "/v1/echo", r#"{"id":"x","nope":1}"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nope"), "{body}");
}

#[tokio::test]
async fn unannotated_methods_on_request() {
    let config =
        crate::support::gateway::DEMO_CONFIG.to_owned() + "transcoding: { unannotated_methods: true }\n";
    let gateway = Harness::with_config(&config).await;
    let (status, body) = gateway.send_json("POST", "/demo.v1.Echo/Unannotated", r#"{"id":"u"}"#).await;
    assert_eq!((status, body["id"].clone()), (200, json!("u")));

    let without = Harness::start().await;
    let (status, _) = without.send_json("POST", "/demo.v1.Echo/Unannotated", "{}").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn http2_clients_are_served_on_the_same_port() {
    let gateway = Harness::start().await;
    let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let response = client.get(gateway.url("/v1/echo/h2")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["id"], "h2");
}
