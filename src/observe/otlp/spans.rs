//! One ended request as OTLP spans, from its context and record: the
//! request (a server span with the gateway's span id, its parent the
//! client's span), its policy chain and its last upstream try (client
//! span) as children. Times are the arrival's wall clock plus the offsets
//! the record kept.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{
    observe::{Record, RequestContext},
    proto::opentelemetry::proto::{
        common::v1::{AnyValue, KeyValue, any_value::Value},
        trace::v1::{Span, Status, span::SpanKind, status::StatusCode},
    },
    upstream::code_name,
};

/// The spans of the request of `context`.
pub(super) fn of(context: &RequestContext, record: &Record) -> Vec<Span> {
    let trace = context.trace();
    let arrived = SystemTime::now().checked_sub(context.received_at().elapsed()).unwrap_or(UNIX_EPOCH);
    let at = |offset: Duration| nanos(arrived + offset);
    let ended = record.finished.map_or_else(|| context.received_at().elapsed(), |(_, after)| after);
    let request_span = trace.span_id();
    let mut attributes = vec![
        text("http.request.method", record.method.as_str()),
        text("url.path", record.uri.path()),
        text("request.id", context.request_id().to_str().unwrap_or("")),
        int("http.response.status_code", record.status.map_or(0, |status| i64::from(status.as_u16()))),
    ];
    if let Some(route) = context.route() {
        attributes.push(text("http.route", route));
    }
    if let Some(code) = record.grpc_code() {
        attributes.push(text("rpc.grpc.status_code", code_name(code)));
    }
    let failed = record.status.is_none_or(|status| status.is_server_error());
    let name = context.route().unwrap_or("request").to_owned();
    let base = Span {
        trace_id: trace.trace_id().to_vec(),
        trace_state: trace.tracestate().and_then(|state| state.to_str().ok()).unwrap_or("").to_owned(),
        flags: u32::from(trace.sampled()),
        ..Span::default()
    };
    let mut spans = vec![Span {
        span_id: request_span.to_vec(),
        parent_span_id: trace.parent().map(|parent| parent.to_vec()).unwrap_or_default(),
        name,
        kind: SpanKind::Server as i32,
        start_time_unix_nano: nanos(arrived),
        end_time_unix_nano: at(ended),
        attributes,
        status: failed.then(|| Status { code: StatusCode::Error as i32, message: String::new() }),
        ..base.clone()
    }];
    let child = |name: &str, kind: SpanKind, (start, end): (Duration, Duration), attributes| Span {
        span_id: fresh_span_id().to_vec(),
        parent_span_id: request_span.to_vec(),
        name: name.to_owned(),
        kind: kind as i32,
        start_time_unix_nano: at(start),
        end_time_unix_nano: at(end),
        attributes,
        ..base.clone()
    };
    if let Some(window) = record.policy {
        spans.push(child("policy", SpanKind::Internal, window, Vec::new()));
    }
    if let Some(last) = &record.upstream {
        let start = last.started.saturating_duration_since(context.received_at());
        let attributes = vec![
            text("upstream", &last.upstream),
            text("server.address", &last.address.to_string()),
            int("upstream.tries", i64::from(record.tries)),
        ];
        let end = start + last.took.unwrap_or_default();
        spans.push(child("upstream", SpanKind::Client, (start, end), attributes));
    }
    spans
}

/// A span id for a child span (the request's own is the trace context's).
fn fresh_span_id() -> [u8; 8] {
    crate::observe::random::pair().0.to_be_bytes()
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos() as u64)
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(Value::StringValue(value.to_owned())) }),
        ..KeyValue::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(Value::IntValue(value)) }),
        ..KeyValue::default()
    }
}
