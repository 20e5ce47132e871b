//! W3C trace context through the gateway: a client's `traceparent` reaches
//! the backends (as gRPC metadata for a transcoded call, as a header for a
//! pass-through call) with the same trace id and flags and the gateway's
//! own span id; `tracestate` goes with it; without one (or with a broken
//! one) the gateway starts a trace of its own.

use serde_json::Value;

use crate::support::gateway::{DEMO_AND_LEGACY, Harness};

const CLIENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn harness() -> Harness {
    let routes = "routes:\n  - grpc: { service: demo.v1.Echo, upstream: demo }\n  \
                  - http: { prefix: /legacy/, upstream: legacy }\n";
    Harness::with_echo_backend(&format!("{DEMO_AND_LEGACY}{routes}")).await
}

/// What the transcoded and the proxied backend received as `traceparent`
/// and `tracestate`, for a request with `headers`.
async fn received(gateway: &Harness, headers: &[(&str, &str)]) -> [(Value, Value); 2] {
    let send = |path: &str| {
        let mut request = gateway.client.get(gateway.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let grpc = send("/v1/metadata").await["received"].clone();
    let http = send("/legacy/x").await["headers"].clone();
    [
        (grpc["traceparent"].clone(), grpc["tracestate"].clone()),
        (http["traceparent"][0].clone(), http["tracestate"][0].clone()),
    ]
}

/// `version-trace-span-flags`.
fn parts(traceparent: &Value) -> Vec<String> {
    let text = traceparent.as_str().unwrap_or_else(|| panic!("no traceparent: {traceparent}"));
    assert_eq!(text.len(), 55, "{text}");
    text.split('-').map(str::to_owned).collect()
}

#[tokio::test]
async fn a_clients_trace_reaches_both_backends_with_the_gateways_span() {
    let gateway = harness().await;
    let sent = [("traceparent", CLIENT), ("tracestate", "vendor=abc")];
    let mut spans = Vec::new();
    for (traceparent, tracestate) in received(&gateway, &sent).await {
        let parts = parts(&traceparent);
        assert_eq!((parts[0].as_str(), parts[1].as_str()), ("00", "4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(parts[3], "01", "the client's flags");
        assert_ne!(parts[2], "00f067aa0ba902b7", "the gateway's span, not the client's");
        assert_ne!(parts[2], "0000000000000000");
        assert_eq!(tracestate, "vendor=abc");
        spans.push(parts[2].clone());
    }
    assert_ne!(spans[0], spans[1], "each request is a span of its own");
}

#[tokio::test]
async fn without_a_valid_traceparent_the_gateway_starts_a_trace() {
    let gateway = harness().await;
    for sent in [vec![], vec![("traceparent", "00-not-a-trace-01"), ("tracestate", "vendor=abc")]] {
        for (traceparent, tracestate) in received(&gateway, &sent).await {
            let parts = parts(&traceparent);
            assert_ne!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(parts[1], "0".repeat(32));
            assert_eq!(parts[3], "00", "not sampled: nothing exports spans here");
            assert_eq!(tracestate, Value::Null, "no tracestate without the trace it belongs to: {sent:?}");
        }
    }
}

#[tokio::test]
async fn span_export_needs_the_otlp_feature_and_an_http_address() {
    let compile = |otlp: &str| {
        let yaml = format!("listen: 127.0.0.1:0\ntracing: {{ otlp: {otlp} }}\n");
        async move {
            let config = protogate::config::Config::from_yaml(&yaml, "test config").unwrap();
            protogate::compile::compile(&config, std::path::Path::new("."), &[])
                .await
                .err()
                .map(|e| e.to_string())
        }
    };
    let good = compile(r#"{ endpoint: "http://127.0.0.1:4317" }"#).await;
    let bad = compile(r#"{ endpoint: "127.0.0.1:4317" }"#).await.unwrap_or_default();
    if cfg!(feature = "otlp") {
        assert_eq!(good, None);
        assert!(bad.contains("tracing.otlp.endpoint") && bad.contains("http://"), "{bad}");
    } else {
        let good = good.unwrap_or_default();
        assert!(good.contains("tracing.otlp") && good.contains("--features otlp"), "{good}");
    }
}
