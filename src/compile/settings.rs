//! Config values checked and resolved with their defaults: listen
//! addresses, limits, durations, forwarded headers. Each refusal names its
//! place.

use std::{net::SocketAddr, path::Path, time::Duration};

use http::HeaderName;

use super::{CompileErrors, Place};
use crate::{
    admin::AdminToken,
    config::{self, ByteSize, Config, Ratio},
    observe::{AccessLogSettings, ObserveSettings, OtlpSettings},
    runtime::BodyLimits,
    server::{HeadLimits, ShutdownSettings},
    transcode::{bind::InputLimits, metadata::MetadataRules},
};

const DEFAULT_MAX_BODY: u64 = 4 << 20;
const DEFAULT_MAX_HEADER: u64 = 64 << 10;
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Below the 16 KiB header limit common to gRPC servers (tonic, grpc-go).
const DEFAULT_MAX_METADATA: u64 = 8 << 10;
const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
/// hyper's own default for HTTP/1, applied to HTTP/2 too.
const DEFAULT_MAX_HEADERS: usize = 100;
/// The most connections one listener holds open at once.
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// serde_json's recursion limit: a deeper `limits.max_json_depth` would be its error, not ours.
const MAX_JSON_DEPTH: usize = 128;
/// No duration in the config may be longer: timers past it serve no one and
/// can overflow the clocks they are added to.
const LONGEST_DURATION: Duration = Duration::from_secs(24 * 3600);

/// A listening address (`listen`, `admin.listen`): an IP address and a
/// port; `None` after an error. A host name is refused with the addresses
/// to write instead: which of its addresses to bind is the operator's
/// choice, not the resolver's.
pub(super) fn address(text: &str, place: &Place, errors: &mut CompileErrors) -> Option<SocketAddr> {
    let error = match text.parse::<SocketAddr>() {
        Ok(address) => return Some(address),
        Err(error) => error,
    };
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() && !host.contains(':') => {
            errors.push(
                place,
                format!(
                    "{text:?} is not an IP address and port: write 127.0.0.1:{port} (or [::1]:{port}, 0.0.0.0:{port})"
                ),
            );
        }
        _ => errors
            .push(place, format!("{text:?}: {error} (write an IP address and a port, e.g. 127.0.0.1:8080)")),
    }
    None
}

/// The admin listener's address and token: an address that is not
/// loopback needs `admin.token_file` or `admin.allow_public: true`.
/// How requests are observed: metrics when an admin listener serves them
/// and `admin.metrics` is not false; the access log unless
/// `access_log.enabled` is false (its path taken from `base_dir`).
pub(super) fn observe_of(config: &Config, base_dir: &Path, errors: &mut CompileErrors) -> ObserveSettings {
    let metrics = config.admin.as_ref().is_some_and(|admin| admin.metrics.unwrap_or(true));
    let log = &config.access_log;
    let sample_per_million = match log.sample {
        None => 1_000_000,
        Some(Ratio(ppm)) if (0..=1_000_000).contains(&ppm) => ppm as u32,
        Some(_) => {
            let place = Place::root().key("access_log").key("sample");
            errors.push(place, "must be between 0 and 1 (or 0% and 100%)");
            1_000_000
        }
    };
    let credential_params = config
        .policies
        .values()
        .filter_map(|policy| {
            policy
                .jwt
                .as_ref()
                .and_then(|jwt| jwt.query.clone())
                .or_else(|| policy.api_key.as_ref()?.query.clone())
        })
        .collect();
    let access_log = log.enabled.unwrap_or(true).then(|| AccessLogSettings {
        path: log.path.as_ref().map(|path| base_dir.join(path)),
        sample_per_million,
        credential_params,
    });
    ObserveSettings { metrics, access_log, otlp: otlp_of(config, errors) }
}

/// The span export of `tracing.otlp`, refused by a build without the
/// `otlp` feature.
fn otlp_of(config: &Config, errors: &mut CompileErrors) -> Option<OtlpSettings> {
    let otlp = config.tracing.otlp.as_ref()?;
    let place = Place::root().key("tracing").key("otlp");
    if !cfg!(feature = "otlp") {
        errors.push(place, "this protogate is built without span export: build it with `--features otlp`");
        return None;
    }
    let endpoint = match otlp.endpoint.parse::<http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => uri,
        _ => {
            let message =
                format!("{:?} is not an http:// or https:// address (http://127.0.0.1:4317)", otlp.endpoint);
            errors.push(place.key("endpoint"), message);
            return None;
        }
    };
    let service_name = otlp.service_name.clone().unwrap_or_else(|| "protogate".to_owned());
    Some(OtlpSettings { endpoint, service_name })
}

pub(super) fn admin_of(
    config: &Config,
    base_dir: &Path,
    errors: &mut CompileErrors,
) -> (Option<SocketAddr>, Option<AdminToken>) {
    let Some(admin) = &config.admin else { return (None, None) };
    let place = Place::root().key("admin");
    let listen = address(&admin.listen, &place.key("listen"), errors);
    let token = admin.token_file.as_ref().and_then(|path| {
        let place = place.key("token_file");
        match std::fs::read_to_string(base_dir.join(path)) {
            Ok(text) if text.trim().is_empty() => errors.push(place, format!("{} is empty", path.display())),
            Ok(text) => return Some(AdminToken::new(text.trim())),
            Err(error) => errors.push(place, format!("cannot read {}: {error}", path.display())),
        }
        None
    });
    if let Some(addr) = listen.filter(|addr| !addr.ip().is_loopback())
        && admin.token_file.is_none()
        && !admin.allow_public
    {
        errors.push(
            place.key("listen"),
            format!(
                "{addr} is not a loopback address: set admin.token_file (a bearer token every admin request \
                 must carry) or admin.allow_public: true"
            ),
        );
    }
    (listen, token)
}

/// The client limits: the body's, applied per request, and the head's,
/// applied by the listener (checked in the order of the config's keys).
pub(super) fn limits_of(config: &Config, errors: &mut CompileErrors) -> (BodyLimits, HeadLimits) {
    let limits = &config.limits;
    let place = Place::root().key("limits");
    let max_connections = positive(limits.max_connections, &place.key("max_connections"), errors)
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
    let max_body_bytes = size(limits.max_body_bytes, DEFAULT_MAX_BODY, &place.key("max_body_bytes"), errors);
    let max_header_bytes =
        size(limits.max_header_bytes, DEFAULT_MAX_HEADER, &place.key("max_header_bytes"), errors);
    let header_read_timeout = duration(
        limits.header_read_timeout,
        DEFAULT_HEADER_READ_TIMEOUT,
        &place.key("header_read_timeout"),
        errors,
    );
    let body_read_timeout = duration(
        limits.body_read_timeout,
        DEFAULT_BODY_READ_TIMEOUT,
        &place.key("body_read_timeout"),
        errors,
    );
    let max_concurrent_streams = match limits.max_concurrent_streams {
        Some(0) => {
            errors.push(place.key("max_concurrent_streams"), "must be at least 1");
            DEFAULT_MAX_CONCURRENT_STREAMS
        }
        Some(streams) => streams,
        None => DEFAULT_MAX_CONCURRENT_STREAMS,
    };
    let max_headers =
        positive(limits.max_headers, &place.key("max_headers"), errors).unwrap_or(DEFAULT_MAX_HEADERS);
    let head = HeadLimits {
        max_connections,
        max_header_bytes,
        header_read_timeout,
        max_concurrent_streams,
        max_headers,
        headers_with_underscores: limits.headers_with_underscores.unwrap_or_default(),
    };
    (
        BodyLimits {
            max_body_bytes,
            body_read_timeout,
            input: input_limits(limits, &place, errors),
            max_streams_per_connection: positive(
                limits.max_streams_per_connection,
                &place.key("max_streams_per_connection"),
                errors,
            ),
        },
        head,
    )
}

/// An optional count that must be at least 1.
pub(super) fn positive<T: Copy + PartialEq + From<u8>>(
    value: Option<T>,
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<T> {
    match value {
        Some(zero) if zero == T::from(0) => {
            errors.push(place.clone(), "must be at least 1");
            None
        }
        value => value,
    }
}

/// `shutdown.delay` (zero allowed) and `shutdown.drain`.
pub(super) fn shutdown_of(config: &Config, errors: &mut CompileErrors) -> ShutdownSettings {
    let place = Place::root().key("shutdown");
    let defaults = ShutdownSettings::default();
    let delay = match config.shutdown.delay {
        Some(config::Duration(Duration::ZERO)) => Duration::ZERO,
        delay => duration(delay, defaults.delay, &place.key("delay"), errors),
    };
    let drain = duration(config.shutdown.drain, defaults.drain, &place.key("drain"), errors);
    ShutdownSettings { delay, drain }
}

/// The bounds on what one request may make a binder parse.
fn input_limits(limits: &config::LimitsConfig, place: &Place, errors: &mut CompileErrors) -> InputLimits {
    let default = InputLimits::DEFAULT;
    let max_json_depth = match limits.max_json_depth {
        Some(depth @ 1..=MAX_JSON_DEPTH) => depth,
        Some(_) => {
            let message =
                format!("must be from 1 to {MAX_JSON_DEPTH} (the JSON parser's own recursion limit)");
            errors.push(place.key("max_json_depth"), message);
            default.max_json_depth
        }
        None => default.max_json_depth,
    };
    InputLimits {
        max_json_depth,
        max_query_params: limits.max_query_params.unwrap_or(default.max_query_params),
        max_query_value_bytes: size(
            limits.max_query_value_bytes,
            default.max_query_value_bytes as u64,
            &place.key("max_query_value_bytes"),
            errors,
        ),
    }
}

/// A duration from the config, or `default`; refused when zero or longer
/// than a day.
pub(super) fn duration(
    value: Option<config::Duration>,
    default: Duration,
    place: &Place,
    errors: &mut CompileErrors,
) -> Duration {
    let Some(config::Duration(value)) = value else { return default };
    if value.is_zero() {
        errors.push(place, "must be longer than 0");
        default
    } else if value > LONGEST_DURATION {
        errors.push(place, format!("{value:?} is longer than the longest allowed, 24h"));
        default
    } else {
        value
    }
}

fn size(value: Option<ByteSize>, default: u64, place: &Place, errors: &mut CompileErrors) -> usize {
    let bytes = value.map_or(default, |size| size.0);
    usize::try_from(bytes).unwrap_or_else(|_| {
        errors.push(place, format!("{bytes} bytes is too large for this machine"));
        usize::MAX
    })
}

/// Headers the connection or the protocol own: hop-by-hop, `host`, `grpc-*`.
pub(super) fn is_protocol_header(name: &HeaderName) -> bool {
    crate::proxy::is_hop_by_hop(name) || name == http::header::HOST || name.as_str().starts_with("grpc-")
}

/// Headers that `transcoding.forward_headers` may not name: the protocol's
/// own, content negotiation, and those the gateway sets itself.
fn is_reserved_header(name: &HeaderName) -> bool {
    is_protocol_header(name)
        || matches!(name.as_str(), "content-type" | "content-length" | "user-agent")
        || name.as_str().starts_with("x-forwarded-")
}

/// What transcoded calls forward as metadata: `transcoding.forward_headers`,
/// within `transcoding.max_metadata_bytes`.
pub(super) fn metadata_rules(config: &Config, errors: &mut CompileErrors) -> MetadataRules {
    let place = Place::root().key("transcoding").key("max_metadata_bytes");
    let mut max_bytes = size(config.transcoding.max_metadata_bytes, DEFAULT_MAX_METADATA, &place, errors);
    if max_bytes == 0 {
        errors.push(place, "must be at least 1 byte");
        max_bytes = DEFAULT_MAX_METADATA as usize;
    }
    MetadataRules::new(forwarded_headers(config, errors), max_bytes)
}

/// The headers of `transcoding.forward_headers`.
fn forwarded_headers(config: &Config, errors: &mut CompileErrors) -> Vec<HeaderName> {
    let mut allow = Vec::new();
    for (index, name) in config.transcoding.forward_headers.iter().enumerate() {
        let place = Place::root().key("transcoding").key("forward_headers").index(index);
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) if is_reserved_header(&header) => errors.push(
                place,
                format!(
                    "{name:?} cannot be forwarded as metadata: the connection or the gRPC protocol owns it"
                ),
            ),
            Ok(header) => allow.push(header),
            Err(_) => errors.push(place, format!("{name:?} is not a header name")),
        }
    }
    allow
}
