//! `grpc.health.v1.Health` as seen by the checker: one `Check`, or a
//! `Watch` stream followed until it ends.

use std::time::Duration;

use tonic::Code;

use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use super::CheckFailure;
use crate::upstream::{GrpcChannel, GrpcConnection};

/// Asks once whether `service` is SERVING.
pub(super) async fn check(
    channel: &GrpcChannel,
    service: &str,
    timeout: Duration,
) -> Result<(), CheckFailure> {
    let reply = client(channel).await?.check(request(service, Some(timeout))).await?;
    serving(reply.into_inner().status)
}

/// A health client on the channel's connection, opened first if none is.
async fn client(channel: &GrpcChannel) -> Result<HealthClient<GrpcConnection>, tonic::Status> {
    channel.connection().await.map(HealthClient::new).map_err(tonic::Status::from_error)
}

/// How a followed `Watch` stream came to an end.
#[derive(Debug)]
pub(super) enum WatchEnd {
    /// The server does not implement `Watch`: poll `Check` instead.
    Unimplemented,
    /// The server closed the stream.
    Closed,
    /// The stream could not be opened, or failed.
    Failed(CheckFailure),
}

/// Follows `Watch` for `service`, calling `on_status` with every message
/// (as a pass or a failure), until the stream ends. `timeout` bounds the
/// opening of the stream and the first message, which the server sends at once.
pub(super) async fn watch(
    channel: &GrpcChannel,
    service: &str,
    timeout: Duration,
    mut on_status: impl FnMut(Result<(), CheckFailure>),
) -> WatchEnd {
    let opened = tokio::time::timeout(timeout, async {
        let mut stream = client(channel).await?.watch(request(service, None)).await?.into_inner();
        let first = stream.message().await?;
        Ok::<_, tonic::Status>((stream, first))
    })
    .await;
    let (mut stream, mut next) = match opened {
        Err(_) => return WatchEnd::Failed(CheckFailure::Timeout(timeout)),
        Ok(Err(status)) if status.code() == Code::Unimplemented => return WatchEnd::Unimplemented,
        Ok(Err(status)) => return WatchEnd::Failed(status.into()),
        Ok(Ok(opened)) => opened,
    };
    loop {
        match next {
            Some(reply) => on_status(serving(reply.status)),
            None => return WatchEnd::Closed,
        }
        next = match stream.message().await {
            Ok(next) => next,
            Err(status) => return WatchEnd::Failed(status.into()),
        };
    }
}

fn request(service: &str, timeout: Option<Duration>) -> tonic::Request<HealthCheckRequest> {
    let mut request = tonic::Request::new(HealthCheckRequest { service: service.to_owned() });
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    request
}

/// A pass for SERVING; any other status is a failure.
fn serving(status: i32) -> Result<(), CheckFailure> {
    match ServingStatus::try_from(status) {
        Ok(ServingStatus::Serving) => Ok(()),
        Ok(other) => Err(CheckFailure::NotServing(other.as_str_name().to_owned())),
        Err(_) => Err(CheckFailure::NotServing(format!("the unknown status {status}"))),
    }
}
