//! Span export (`--features otlp`): the gateway sends the spans of a
//! request to a real OTLP/gRPC receiver, a tonic TraceService built from
//! the vendored collector protos and started here. The request's span
//! continues the client's trace, has the span id the backend was told in
//! its `traceparent`, and has the policy and upstream spans as children.

use std::{path::PathBuf, sync::Arc, time::Duration};

use protogate::{
    config::Config,
    demo::DemoBackend,
    proto::opentelemetry::proto::{
        collector::trace::v1::{
            ExportTraceServiceRequest, ExportTraceServiceResponse,
            trace_service_server::{TraceService, TraceServiceServer},
        },
        trace::v1::Span,
    },
    reload::{ConfigSource, Reloader},
    server::{self, RunningServer},
};
use tokio::{
    net::TcpListener,
    sync::{Mutex, mpsc},
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// The receiver: every span it was sent, in order.
struct Receiver(mpsc::UnboundedSender<Span>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        for resource in request.into_inner().resource_spans {
            let service =
                resource.resource.and_then(|r| r.attributes.into_iter().find(|a| a.key == "service.name"));
            assert!(service.is_some(), "spans name their service");
            for scope in resource.scope_spans {
                for span in scope.spans {
                    let _ = self.0.send(span);
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Starts the receiver on 127.0.0.1:0.
async fn receiver() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Span>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (connections, incoming) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if connections.send(Ok::<_, std::io::Error>(stream)).await.is_err() {
                return;
            }
        }
    });
    let (spans, received) = mpsc::unbounded_channel();
    let service = TraceServiceServer::new(Receiver(spans));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(ReceiverStream::new(incoming)),
    );
    (addr, received)
}

async fn gateway(collector: std::net::SocketAddr, backend: &DemoBackend) -> (Arc<Reloader>, RunningServer) {
    let yaml = format!(
        "listen: 127.0.0.1:0\n\
         access_log: {{ enabled: false }}\n\
         tracing: {{ otlp: {{ endpoint: \"http://{collector}\", service_name: gateway-under-test }} }}\n\
         descriptors: [{{ file: descriptors/demo.pb }}]\n\
         upstreams: {{ demo: {{ endpoints: [\"http://{}\"] }} }}\n\
         routes: [{{ grpc: {{ service: demo.v1.Echo, upstream: demo }} }}]\n",
        backend.addr()
    );
    let config = Config::from_yaml(&yaml, "test config").unwrap();
    let source =
        ConfigSource::Fixed { config: Box::new(config), base_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")) };
    let reloader = Reloader::start(source, Vec::new()).await.unwrap_or_else(|error| panic!("{error}"));
    let head = reloader.listeners().head;
    let server =
        server::start("127.0.0.1:0".parse().unwrap(), head, reloader.gateway().clone()).await.unwrap();
    (reloader, server)
}

/// The spans received until one named `name` with trace id `trace` came,
/// and the two that follow it in its batch (5 s at most).
async fn spans_of(received: &Mutex<mpsc::UnboundedReceiver<Span>>, trace: &[u8]) -> Vec<Span> {
    let mut spans = Vec::new();
    let wait = async {
        let mut received = received.lock().await;
        while spans.iter().filter(|span: &&Span| span.trace_id == trace).count() < 3 {
            spans.push(received.recv().await.unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .unwrap_or_else(|_| panic!("no spans of the trace"));
    spans.into_iter().filter(|span| span.trace_id == trace).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_requests_spans_reach_the_receiver_in_the_clients_trace() {
    let (collector, received) = receiver().await;
    let received = Mutex::new(received);
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (_reloader, gateway) = gateway(collector, &backend).await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{}/v1/metadata", gateway.addr()))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let told = body["received"]["traceparent"].as_str().unwrap().to_owned();

    let trace =
        [0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36];
    let spans = spans_of(&received, &trace).await;
    let request =
        spans.iter().find(|span| span.name == "GET /v1/metadata").unwrap_or_else(|| panic!("{spans:?}"));
    assert_eq!(hex(&request.parent_span_id), "00f067aa0ba902b7", "the client's span is the parent");
    assert_eq!(
        told,
        format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01", hex(&request.span_id)),
        "the backend's parent"
    );
    assert!(request.end_time_unix_nano > request.start_time_unix_nano);
    assert!(request.attributes.iter().any(|a| a.key == "http.route"), "{request:?}");
    for name in ["policy", "upstream"] {
        let child = spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("no {name} span: {spans:?}"));
        assert_eq!(child.parent_span_id, request.span_id, "{name} is the request's child");
        assert!(child.start_time_unix_nano >= request.start_time_unix_nano);
        assert!(child.end_time_unix_nano <= request.end_time_unix_nano, "{name}");
    }

    // Without a traceparent, the gateway starts a trace, sampled since it exports.
    let response = client.get(format!("http://{}/v1/metadata", gateway.addr())).send().await.unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let told = body["received"]["traceparent"].as_str().unwrap().to_owned();
    assert!(told.ends_with("-01"), "{told}");
    let trace: Vec<u8> =
        (0..16).map(|i| u8::from_str_radix(&told[3 + 2 * i..5 + 2 * i], 16).unwrap()).collect();
    let spans = spans_of(&received, &trace).await;
    assert!(
        spans.iter().any(|span| span.parent_span_id.is_empty() && span.name == "GET /v1/metadata"),
        "{spans:?}"
    );
}
