//! Client and bidirectional streams over HTTP: the request body is cut into
//! messages as it arrives and each is sent as soon as it is bound
//! (requests.rs); a client stream's one reply is an ordinary JSON response,
//! a bidirectional stream's replies are framed like a server stream's and
//! flow while the request body is still open (full duplex over HTTP/2).
//!
//! Time: `grpc.stream.max_duration` bounds the whole stream, `idle_timeout`
//! the gap between two request messages (and between two replies); the
//! route's `timeout` bounds the wait for a bidirectional call to open, and
//! for a client stream's reply once its request stream has ended.

use std::sync::{Arc, Mutex};

use http::{Response, header, request::Parts};
use tokio_stream::Stream;
use tonic::Code;

use super::{
    StreamSettings,
    body::{StreamBody, StreamParts},
    caps::StreamPermit,
    framing::{FrameWriter, Framing},
    requests::{self, BodyMessages, MessageReader, RequestBody, RequestEvents, RequestSignals},
    split::Splitter,
};
use crate::{
    body::{ResponseBody, full},
    observe::RequestContext,
    transcode::{
        codec::Outgoing,
        target::{Opened, TranscodeError, TranscodeTarget},
    },
    upstream::{Outcome, Picked, Tried},
};

/// What the gateway hands a target for a client or bidirectional stream:
/// the request head, the captures, the body unread and the context.
#[derive(Debug)]
pub struct StreamingRequest<'a> {
    /// Method, URI and headers.
    pub parts: &'a Parts,
    /// The path variables, in template order.
    pub captures: &'a [String],
    /// The request body, read as the call sends it.
    pub body: RequestBody,
    /// The host the client asked for.
    pub host: Option<&'a str>,
    /// The request's context.
    pub context: &'a Arc<RequestContext>,
}

/// Serves a client or bidirectional stream over HTTP.
pub(crate) async fn serve(
    target: &TranscodeTarget,
    settings: &StreamSettings,
    request: StreamingRequest<'_>,
) -> Result<Response<ResponseBody>, TranscodeError> {
    let StreamingRequest { parts, captures, body, host, context } = request;
    let bidi = target.method().is_server_streaming();
    let framing = Framing::negotiate(parts.headers.get(header::ACCEPT), settings.default_framing);
    // A bidirectional stream's body tells how it went; a client stream's permit does.
    let mut permit = settings.caps.admit(context, (!bidi).then_some("json"))?;
    let request_framing = requests::request_framing(&parts.headers).map_err(|e| permit.failed(e))?;
    let metadata = target.call_metadata(&parts.headers, context, host).map_err(|e| permit.failed(e))?;
    let reader = MessageReader::new(target, captures, parts.uri.query(), settings.max_messages);
    permit.counts_requests(reader.count.clone());
    let (signals, mut events) = RequestSignals::pair();
    let splitter = Splitter::new(request_framing, settings.max_message_bytes);
    let messages = BodyMessages::new(body, splitter, reader, signals, settings.idle_timeout);
    let opening = open(target, settings, messages, metadata, context, &mut events).await;
    let (opened, picked) = opening.map_err(|e| permit.failed(e))?;
    if !bidi {
        return client_reply(target, opened, picked, &mut events, permit).await;
    }
    let trailers = parts.version == http::Version::HTTP_2;
    Ok(bidi_response(
        target,
        settings,
        opened,
        picked,
        (framing, trailers),
        (events, permit),
        context.clone(),
    ))
}

/// Opens the call with the request stream `messages`, within the stream's
/// time limits; a failure of the request side wins over the call's.
pub(super) async fn open<S>(
    target: &TranscodeTarget,
    settings: &StreamSettings,
    messages: S,
    metadata: tonic::metadata::MetadataMap,
    context: &Arc<RequestContext>,
    events: &mut RequestEvents,
) -> Result<(Opened, Picked), TranscodeError>
where
    S: Stream<Item = Outgoing> + Send + 'static,
{
    let slot = Mutex::new(Some(messages));
    let deadline = context.received_at() + target.timeout;
    // A stream cannot be sent twice: only a try that never sent it is
    // tried again (`open_stream` takes it once the channel is ready).
    let call = target.upstream.call_with_retries(false, deadline, context.clone(), |picked, _| {
        let (channel, slot, metadata) = (picked.channel(), &slot, metadata.clone());
        async move {
            match target.open_stream(channel, slot, metadata, settings.max_duration).await {
                Ok(opened) => Tried::Answer(opened),
                Err(failed) => Tried::Failed(failed),
            }
        }
    });
    let bidi = target.method().is_server_streaming();
    let answered = {
        let opening = async {
            match bidi {
                true => tokio::time::sleep_until(deadline.into()).await,
                false => {
                    events.request_ended().await;
                    tokio::time::sleep(target.timeout).await;
                }
            }
        };
        let lasting = async {
            match settings.max_duration {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            answered = call => answered,
            () = opening => return Err(TranscodeError::DeadlineExceeded(target.timeout)),
            () = lasting => return Err(max_duration_passed(settings)),
        }
    };
    answered.map_err(|error| events.failed().unwrap_or_else(|| target.call_error(error, target.timeout)))
}

/// The error of a stream that lasted past `max_duration`.
pub(super) fn max_duration_passed(settings: &StreamSettings) -> TranscodeError {
    let limit = settings.max_duration.unwrap_or_default();
    TranscodeError::StreamTimeout(format!("the stream lasted longer than its max_duration of {limit:?}"))
}

/// A client stream's one reply, as an ordinary JSON response.
async fn client_reply(
    target: &TranscodeTarget,
    opened: Opened,
    mut picked: Picked,
    events: &mut RequestEvents,
    mut permit: StreamPermit,
) -> Result<Response<ResponseBody>, TranscodeError> {
    match tokio::time::timeout(target.timeout, target.one_reply(opened)).await {
        Ok(Ok(response)) => {
            picked.ended_with(Code::Ok);
            picked.finish(Outcome::Success);
            permit.sent_one();
            permit.ended("complete");
            Ok(response.map(full))
        }
        Ok(Err(failed)) => {
            let error = events.failed().unwrap_or(failed.error);
            picked.ended_with(error.code());
            picked.finish(failed.outcome);
            Err(permit.failed(error))
        }
        Err(_) => {
            picked.ended_with(Code::DeadlineExceeded);
            picked.finish(Outcome::Ignored);
            Err(permit.failed(TranscodeError::DeadlineExceeded(target.timeout)))
        }
    }
}

/// A bidirectional stream's response: its replies framed as they arrive.
fn bidi_response(
    target: &TranscodeTarget,
    settings: &StreamSettings,
    (headers, overrides, stream): Opened,
    picked: Picked,
    (framing, trailers): (Framing, bool),
    (events, permit): (RequestEvents, StreamPermit),
    context: Arc<RequestContext>,
) -> Response<ResponseBody> {
    let writer =
        FrameWriter::new(framing, settings.envelope, settings.sse_id.clone(), target.renderer.clone());
    let body = StreamBody::new(StreamParts {
        stream,
        first: None,
        writer,
        picked,
        upstream: target.upstream.clone(),
        pool: target.pool.clone(),
        trailers,
        max_duration: settings.max_duration,
        idle_timeout: settings.idle_timeout,
        keepalive: (framing == Framing::Sse).then_some(settings.sse_keepalive),
        context,
        request: Some(events),
        permit,
    });
    super::stream_response(target, (headers, overrides), (framing, framing.content_type()), body)
}
