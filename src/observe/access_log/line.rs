//! One request's access-log line: a JSON object written from its context
//! and record once it ended.

use std::{
    fmt::{self, Display},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Serialize, Serializer};

use super::redact;
use crate::observe::{BodyEnd, Record, RequestContext};

/// The fields of a line, in the order written.
#[derive(Serialize)]
struct Line<'a> {
    /// When the request arrived (RFC 3339, UTC, milliseconds).
    time: Shown<Rfc3339>,
    request_id: &'a str,
    peer: Shown<std::net::SocketAddr>,
    method: &'a str,
    path: &'a str,
    route: Option<&'a str>,
    /// 0 when no response was sent (the client went away first).
    status: u16,
    grpc_code: Option<i32>,
    upstream: Option<&'a str>,
    endpoint: Option<Shown<&'a http::Uri>>,
    tries: u32,
    duration_ms: f64,
    upstream_duration_ms: Option<f64>,
    bytes_in: u64,
    bytes_out: u64,
    /// `complete`, `failed`, `dropped`, or null when no response was sent.
    body: Option<&'static str>,
    /// The consumer, else the JWT subject.
    principal: Option<&'a str>,
    user_agent: Option<&'a str>,
    tls_version: Option<&'static str>,
    stream: Option<Stream>,
}

#[derive(Serialize)]
struct Stream {
    framing: &'static str,
    messages: u64,
    received: Option<u64>,
    end: &'static str,
}

/// Writes into `out` the line of the request of `context`, from its
/// `record`; `credentials` names more query parameters to redact.
pub(super) fn write(
    context: &RequestContext,
    record: &Record,
    credentials: &[String],
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let elapsed = record.finished.map_or_else(|| context.received_at().elapsed(), |(_, at)| at);
    let arrived = SystemTime::now().checked_sub(context.received_at().elapsed()).unwrap_or(UNIX_EPOCH);
    let path = redact::path_and_query(record.uri.path(), record.uri.query(), credentials);
    let line = Line {
        time: Shown(Rfc3339(arrived)),
        request_id: context.request_id().to_str().unwrap_or(""),
        peer: Shown(context.peer()),
        method: record.method.as_str(),
        path: &path,
        route: context.route(),
        status: record.status.map_or(0, |status| status.as_u16()),
        grpc_code: record.grpc_code().map(|code| code as i32),
        upstream: record.upstream.as_ref().map(|last| &*last.upstream),
        endpoint: record.upstream.as_ref().map(|last| Shown(&last.endpoint)),
        tries: record.tries,
        duration_ms: millis(elapsed),
        upstream_duration_ms: (record.tries > 0).then(|| millis(record.upstream_time)),
        bytes_in: context.bytes_in(),
        bytes_out: record.bytes_out,
        body: record.finished.map(|(end, _)| match end {
            BodyEnd::Complete => "complete",
            BodyEnd::Failed => "failed",
            BodyEnd::Dropped => "dropped",
        }),
        principal: record.principal.as_deref(),
        user_agent: record.user_agent.as_ref().and_then(|agent| agent.to_str().ok()),
        tls_version: context.connection().tls.as_ref().map(|tls| tls.version),
        stream: record.stream.map(|report| Stream {
            framing: report.framing,
            messages: report.messages,
            received: report.received,
            end: report.end,
        }),
    };
    serde_json::to_writer(out, &line)
}

/// A field written as its `Display` text, with no `String` in between.
struct Shown<T>(T);

impl<T: Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// Milliseconds, to the microsecond.
fn millis(duration: Duration) -> f64 {
    (duration.as_micros() as f64) / 1000.0
}

/// A time shown as `2026-12-07T12:05:58.123Z`.
struct Rfc3339(SystemTime);

impl Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let (days, seconds) = (since.as_secs() / 86_400, since.as_secs() % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        let millis = since.subsec_millis();
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
    }
}

/// The date of `days` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = |seconds: u64, millis: u64| {
            Rfc3339(UNIX_EPOCH + Duration::from_millis(seconds * 1000 + millis)).to_string()
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_796_558_758, 123), "2026-12-06T12:05:58.123Z");
    }
}
