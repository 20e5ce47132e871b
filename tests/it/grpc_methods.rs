//! `grpc.methods` limits native gRPC calls as it limits REST routes: a
//! method the route does not list is refused with UNIMPLEMENTED before any
//! backend sees it, and a service no route serves gets a trailers-only
//! gRPC status, not a bare HTTP 404.

use protogate::proto::demo::v1::{
    DeleteShelfRequest, GetShelfRequest, echo_client::EchoClient, library_client::LibraryClient,
};
use tonic::Code;

use crate::support::gateway::Harness;

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
routes:
  - grpc: { service: demo.v1.Library, upstream: demo, methods: [GetShelf, ListShelves] }
"#;

#[tokio::test]
async fn a_method_the_route_does_not_list_is_unimplemented_before_the_backend() {
    let gateway = Harness::with_config(CONFIG).await;
    let mut client = LibraryClient::connect(gateway.url("")).await.unwrap();
    let shelf = client.get_shelf(GetShelfRequest { shelf: 1 }).await.unwrap().into_inner();
    assert_eq!(shelf.theme, "Fiction");
    let served = gateway.backend().calls();

    let refused = client.delete_shelf(DeleteShelfRequest { shelf: 1 }).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    assert!(refused.message().contains("DeleteShelf"), "{refused:?}");
    assert_eq!(gateway.backend().calls(), served, "the backend saw the refused call");
    // The shelf is still there.
    client.get_shelf(GetShelfRequest { shelf: 1 }).await.unwrap();
}

#[tokio::test]
async fn a_service_no_route_serves_is_a_trailers_only_unimplemented() {
    let gateway = Harness::with_config(CONFIG).await;
    let served = gateway.backend().calls();
    let mut client = EchoClient::connect(gateway.url("")).await.unwrap();
    let refused = client.echo(protogate::proto::demo::v1::Kitchen::default()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    assert_eq!(gateway.backend().calls(), served);

    // On the wire: HTTP 200, a gRPC content type, the status in the head.
    let response = gateway
        .client
        .post(gateway.url("/demo.v1.Echo/Echo"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    assert_eq!(response.headers()["grpc-status"], "12");
}
