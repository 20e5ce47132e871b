//! Fields with explicit `json_name`s (tests/data/json_name): a JSON body is
//! read by those names, a reply is written with them, and query parameters
//! take either name; path captures name the proto field path. The backend
//! echoes each message, so what comes back is what the gateway bound.

use serde_json::{Value, json};

use crate::support::{gateway::Harness, raw_grpc::start_grpc_echo};

/// An account as the gateway renders it (default values included).
fn account(key: &str, label: &str, road: &str, visits: i32) -> Value {
    json!({ "accountKey": key, "label": label, "home": { "road": road }, "visitCount": visits })
}

async fn gateway() -> Harness {
    let echo = start_grpc_echo().await;
    let yaml = format!(
        "listen: 127.0.0.1:0\n\
         descriptors: [{{ proto: tests/data/json_name }}]\n\
         upstreams: {{ echo: {{ endpoints: [\"http://{echo}\"] }} }}\n\
         routes:\n  - grpc: {{ service: jsonname.v1.Accounts, upstream: echo }}\n"
    );
    Harness::with_config(&yaml).await
}

#[tokio::test]
async fn a_body_is_read_and_a_reply_written_by_json_name() {
    let gateway = gateway().await;
    let body = r#"{"label": "Ada", "home": {"road": "Main St"}, "visitCount": 3}"#;
    let (status, reply) = gateway.send_json("POST", "/v1/accounts/a-1", body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, account("a-1", "Ada", "Main St", 3));

    // The proto names are accepted in a body as well (as protobuf's JSON
    // mapping asks), and still rendered by json_name.
    let body = r#"{"display_name": "Bo", "home_profile": {"street_name": "Elm"}}"#;
    let (status, reply) = gateway.send_json("POST", "/v1/accounts/a-2", body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, account("a-2", "Bo", "Elm", 0));
}

#[tokio::test]
async fn query_parameters_take_the_json_or_the_proto_name() {
    let gateway = gateway().await;
    for query in ["label=Cy&home.road=Oak", "display_name=Cy&home_profile.street_name=Oak"] {
        let (status, reply) = gateway.get_json(&format!("/v1/accounts/a-3?{query}")).await;
        assert_eq!(status, 200, "{query}: {reply}");
        assert_eq!(reply, account("a-3", "Cy", "Oak", 0), "{query}");
    }
}

#[tokio::test]
async fn path_captures_fill_the_fields_they_name() {
    let gateway = gateway().await;
    let (status, reply) = gateway.get_json("/v1/accounts/a-4/home/Pine").await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, account("a-4", "", "Pine", 0));
}
