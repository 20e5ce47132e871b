//! Span export over OTLP/gRPC (the `otlp` feature, `tracing.otlp` in the
//! config), as an [`Observer`]: at [`Phase::RequestEnded`], a sampled
//! request becomes its spans ([`spans`]: the request, its policy chain and
//! its upstream try), queued for a task that sends them in batches to the
//! collector's `TraceService/Export` (at most 512 spans, or every second).
//! The queue is bounded: when the collector cannot keep up, spans are
//! dropped and counted, never waited for. Traces the gateway starts are
//! sampled while it exports.
//!
//! Why not the opentelemetry crates' exporter fed by tracing-opentelemetry:
//! the gateway must put its own span id into the `traceparent` it sends
//! before the call, and a span built by the tracing layer gets its id from
//! the SDK; building the spans from the record with the ids the request
//! already carries keeps one source of truth, and the wire types are
//! generated from the vendored collector protos (proto/opentelemetry).

mod spans;

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::sync::mpsc::{self, Receiver, Sender, error::TrySendError};
use tonic::transport::{Channel, Endpoint};

use super::{Observer, OtlpSettings, Phase, RequestContext};
use crate::{
    proto::opentelemetry::proto::{
        collector::trace::v1::{ExportTraceServiceRequest, trace_service_client::TraceServiceClient},
        common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value},
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Span},
    },
    task::TaskGuard,
};

/// Spans queued before new ones are dropped.
const QUEUE: usize = 8192;
/// The most spans in one export.
const BATCH: usize = 512;
/// The longest a span waits for its batch.
const EVERY: Duration = Duration::from_secs(1);
/// The longest one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Exports the spans of sampled requests.
pub struct OtlpExporter {
    queue: Sender<Span>,
    dropped: AtomicU64,
    _task: TaskGuard,
}

impl std::fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpExporter").finish_non_exhaustive()
    }
}

impl OtlpExporter {
    /// Starts the task that sends to `settings.endpoint` (connected lazily:
    /// a collector that is down is retried at the next batch). Call within
    /// a Tokio runtime.
    pub fn start(settings: &OtlpSettings) -> Self {
        let (queue, spans) = mpsc::channel(QUEUE);
        let channel = Endpoint::from(settings.endpoint.clone()).timeout(EXPORT_TIMEOUT).connect_lazy();
        let resource = Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue { value: Some(Value::StringValue(settings.service_name.clone())) }),
                ..KeyValue::default()
            }],
            ..Resource::default()
        };
        let task = TaskGuard::spawn(send_batches(spans, TraceServiceClient::new(channel), resource));
        Self { queue, dropped: AtomicU64::new(0), _task: task }
    }
}

impl Observer for OtlpExporter {
    fn on_phase(&self, context: &RequestContext, phase: Phase<'_>) {
        if !matches!(phase, Phase::RequestEnded) || !context.trace().sampled() {
            return;
        }
        for span in spans::of(context, &context.record()) {
            if let Err(TrySendError::Full(_)) = self.queue.try_send(span) {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed);
                if dropped.is_multiple_of(10_000) {
                    tracing::warn!(dropped = dropped + 1, "the OTLP collector cannot keep up: spans dropped");
                }
            }
        }
    }

    fn samples_new_traces(&self) -> bool {
        true
    }
}

async fn send_batches(
    mut spans: Receiver<Span>,
    mut client: TraceServiceClient<Channel>,
    resource: Resource,
) {
    let scope = InstrumentationScope {
        name: "protogate".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..InstrumentationScope::default()
    };
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let Some(first) = spans.recv().await else { return };
        batch.push(first);
        let deadline = tokio::time::sleep(EVERY);
        tokio::pin!(deadline);
        while batch.len() < BATCH {
            tokio::select! {
                span = spans.recv() => match span {
                    Some(span) => batch.push(span),
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope.clone()),
                    spans: std::mem::take(&mut batch),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        if let Err(status) = client.export(request).await {
            tracing::warn!(code = ?status.code(), message = status.message(), "cannot export spans over OTLP");
        }
    }
}
