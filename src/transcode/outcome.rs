//! What a failed call says about the endpoint that served it, for the
//! upstream's outlier detection and breaker.
//!
//! "Could not connect" and "the backend said UNAVAILABLE" are both
//! UNAVAILABLE; they differ in the status's source chain: a connection that
//! could not be opened carries tonic's `ConnectError` (TCP connect errors,
//! TLS handshakes and connect timeouts alike: src/upstream/connection/), a
//! connection that broke afterwards carries a `hyper::Error`, and a status
//! the backend sent carries neither.

use std::error::Error;

use crate::upstream::{Outcome, Upstream};

/// The outcome of a call that ended with `status`.
pub(super) fn of_status(status: &tonic::Status, upstream: &Upstream) -> Outcome {
    if in_chain::<tonic::ConnectError>(status) {
        Outcome::ConnectFailure
    } else if upstream.is_failure_code(status.code()) || is_transport_error(status) {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}

/// Whether `status` comes from the connection to the backend breaking,
/// not from the backend.
pub(super) fn is_transport_error(status: &tonic::Status) -> bool {
    in_chain::<hyper::Error>(status)
}

/// The errors that caused `status`, `: `-separated, each once (tonic's own
/// message for a broken connection is only "transport error").
pub(super) fn causes(status: &tonic::Status) -> String {
    let mut text = String::new();
    let mut source = status.source();
    while let Some(error) = source {
        // A cause that repeats its wrapper's text adds nothing.
        let cause = error.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
        source = error.source();
    }
    text
}

/// Whether an `E` is among the errors that caused `status`.
fn in_chain<E: Error + 'static>(status: &tonic::Status) -> bool {
    let mut source = status.source();
    while let Some(error) = source {
        if error.is::<E>() {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        demo::DemoBackend,
        proto::demo::v1::{FailRequest, echo_client::EchoClient},
        upstream::{UpstreamProtocol, UpstreamSettings, endpoint_uri},
    };

    fn upstream_at(addr: std::net::SocketAddr) -> Upstream {
        let settings = UpstreamSettings {
            protocol: UpstreamProtocol::Grpc,
            endpoints: vec![endpoint_uri(&format!("http://{addr}")).unwrap()],
            connect_timeout: Duration::from_secs(1),
            max_response_bytes: 1 << 20,
            ..Default::default()
        };
        Upstream::new("backend", &settings).unwrap()
    }

    async fn fail(upstream: &Upstream, code: tonic::Code) -> tonic::Status {
        let channel = upstream.pick().unwrap().channel().unwrap();
        let connection = match channel.connection().await {
            Ok(connection) => connection,
            Err(error) => return tonic::Status::from_error(error),
        };
        let request = FailRequest { code: code as i32, message: "told to".into(), ..Default::default() };
        EchoClient::new(connection).fail(request).await.unwrap_err()
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_failure_and_answers_are_judged_by_code() {
        let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let upstream = upstream_at(backend.addr());
        let unavailable = fail(&upstream, tonic::Code::Unavailable).await;
        assert_eq!(of_status(&unavailable, &upstream), Outcome::Failure, "{unavailable:?}");
        let not_found = fail(&upstream, tonic::Code::NotFound).await;
        assert_eq!(of_status(&not_found, &upstream), Outcome::Success, "{not_found:?}");

        let closed = backend.addr();
        drop(backend);
        let upstream = upstream_at(closed);
        let refused = fail(&upstream, tonic::Code::Ok).await;
        assert_eq!(refused.code(), tonic::Code::Unavailable);
        assert_eq!(of_status(&refused, &upstream), Outcome::ConnectFailure, "{refused:?}");
    }
}
