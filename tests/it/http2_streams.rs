//! `limits.max_concurrent_streams`: the HTTP/2 limit of streams one client
//! connection may have open at once, advertised in the gateway's SETTINGS
//! (a client honouring it holds the next stream; hyper refuses one past it
//! with REFUSED_STREAM).

use crate::support::gateway::Harness;

#[tokio::test]
async fn the_listener_advertises_the_configured_stream_limit() {
    let config = format!("{}limits: {{ max_concurrent_streams: 2 }}\n", crate::support::gateway::DEMO_CONFIG);
    let gateway = Harness::with_config(&config).await;
    let tcp = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
    let (mut client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let request = http::Request::get(gateway.url("/v1/shelves/1")).body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = tokio::select! {
        response = response => response.unwrap(),
        ended = &mut connection => panic!("the connection ended first: {ended:?}"),
    };
    assert_eq!(response.status(), 200);
    // The server's SETTINGS came before its answer.
    assert_eq!(connection.max_concurrent_send_streams(), 2);
}
