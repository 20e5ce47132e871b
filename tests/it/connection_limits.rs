//! `limits.max_connections` (issue 12, "Limits with safe defaults"): with
//! real TCP clients, the connection past the limit is closed at once
//! without an answer and counted, the connections held keep being served,
//! and a slot frees when one of them closes.

use protogate::demo::DemoBackend;

use crate::support::{
    gateway::start_gateway,
    poll::eventually,
    raw_http::{RawConnection, ReadFailure, get},
};

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
limits: { max_connections: 3 }
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
"#;

/// A status of 200 for `GET /v1/echo/1` on `connection`.
async fn served(connection: &mut RawConnection) -> bool {
    connection.exchange(&get("/v1/echo/1")).await.is_ok_and(|response| response.status == 200)
}

#[tokio::test]
async fn the_connection_past_the_limit_is_refused_and_a_closed_one_frees_its_slot() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gateway = start_gateway(&CONFIG.replace("{backend}", &backend.addr().to_string())).await;
    let stats = gateway.connection_stats().clone();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut connection = RawConnection::connect(gateway.addr()).await;
        assert!(served(&mut connection).await);
        held.push(connection);
    }
    assert_eq!((stats.open(), stats.refused()), (3, 0));

    let mut fourth = RawConnection::connect(gateway.addr()).await;
    match fourth.exchange(&get("/v1/echo/1")).await {
        Err(ReadFailure::Broken(_) | ReadFailure::Closed) => {}
        other => panic!("the fourth connection was served: {other:?}"),
    }
    assert_eq!((stats.open(), stats.refused()), (3, 1));
    for connection in &mut held {
        assert!(served(connection).await, "a connection held is still served");
    }

    drop(held.pop());
    eventually("the closed connection's slot to free", async || stats.open() == 2).await;
    let mut fresh = RawConnection::connect(gateway.addr()).await;
    assert!(served(&mut fresh).await, "a new connection takes the freed slot");
    assert_eq!((stats.open(), stats.refused()), (3, 1));
}

#[test]
fn a_zero_limit_is_refused_naming_its_key() {
    let config = protogate::config::Config::from_yaml(
        "listen: 127.0.0.1:0\nlimits: { max_connections: 0 }\n",
        "test config",
    )
    .unwrap();
    let compiled = tokio::runtime::Runtime::new().unwrap().block_on(protogate::compile::compile(
        &config,
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &[],
    ));
    let Err(errors) = compiled else { panic!("max_connections: 0 compiled") };
    let errors = errors.to_string();
    assert!(errors.contains("limits.max_connections") && errors.contains("at least 1"), "{errors}");
}
