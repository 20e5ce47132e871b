//! Client and bidirectional streams over WebSocket (a `GET` with `Upgrade:
//! websocket` on a streaming binding's path, whatever its verb): each text
//! frame is one request message (bound like an HTTP stream's, requests.rs),
//! each reply one text frame `{"result": ...}`. An empty text frame
//! half-closes the request stream; the client's close frame ends the
//! session (RFC 6455 leaves no room for replies after it). The end is a
//! close code: 1000 when the call succeeded; `{"error": ...}` and then
//! 4000 + the gRPC code when it failed (a bad message, a limit, the
//! backend's status); 1001 when the gateway drains.
//!
//! [`accept`] answers the upgrade (101) after the route's policies ran;
//! [`run`] serves the taken-over connection. The gateway holds one message
//! each way: a slow reader slows the backend, a slow backend slows the
//! reading of frames. Pings go out every `ping_interval`; tungstenite
//! answers the client's pings.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Response, StatusCode, header, request::Parts};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        error::{CapacityError, Error as WsError},
        handshake::derive_accept_key,
        protocol::{CloseFrame, Role, WebSocketConfig, frame::coding::CloseCode},
    },
};
use tonic::{Code, metadata::MetadataMap};

use super::{
    StreamSettings,
    body::error_frame,
    caps::StreamPermit,
    duplex::{self, max_duration_passed},
    framing::{ErrorFrame, FrameWriter, Framing},
    requests::{MessageReader, RequestSignals},
};
use crate::{
    body::{ResponseBody, full},
    observe::{HeldSession, RequestContext},
    transcode::{
        codec::Outgoing,
        target::{Opened, TranscodeError, TranscodeTarget, failure_of},
    },
    upstream::{Outcome, Picked},
};

/// How long a closing session waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// The longest close reason a close frame holds (125 bytes less the code).
const MAX_REASON: usize = 123;

/// What the gateway hands a target for a WebSocket upgrade.
#[derive(Debug)]
pub struct WebSocketRequest<'a> {
    /// The upgrade request's head.
    pub parts: &'a Parts,
    /// The path variables, in template order.
    pub captures: &'a [String],
    /// The host the client asked for.
    pub host: Option<&'a str>,
    /// The request's context.
    pub context: &'a Arc<RequestContext>,
}

/// An accepted WebSocket stream, run once hyper hands over the connection.
#[derive(Debug)]
pub struct WebSocketSession {
    reader: MessageReader,
    metadata: MetadataMap,
    context: Arc<RequestContext>,
    permit: StreamPermit,
    _held: HeldSession,
}

/// Answers a WebSocket upgrade: `101 Switching Protocols`, and the session
/// to run; a bad handshake is a 400, a cap reached a 429.
pub(crate) fn accept(
    target: &TranscodeTarget,
    settings: &StreamSettings,
    request: WebSocketRequest<'_>,
) -> Result<(Response<ResponseBody>, WebSocketSession), TranscodeError> {
    let WebSocketRequest { parts, captures, host, context } = request;
    let headers = &parts.headers;
    if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
        return Err(TranscodeError::BadStream("a WebSocket upgrade needs Sec-WebSocket-Version: 13".into()));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(TranscodeError::BadStream("a WebSocket upgrade needs a Sec-WebSocket-Key".into()));
    };
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|e| TranscodeError::Internal(e.to_string()))?;
    let mut permit = settings.caps.admit(context, Some(Framing::WebSocket.name()))?;
    let metadata = target.call_metadata(headers, context, host).map_err(|e| permit.failed(e))?;
    let reader = MessageReader::new(target, captures, parts.uri.query(), settings.max_messages);
    permit.counts_requests(reader.count.clone());
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let out = response.headers_mut();
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    out.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    let held = context.connection().state.hold();
    let session = WebSocketSession { reader, metadata, context: context.clone(), permit, _held: held };
    Ok((response, session))
}

/// How a session ended.
enum End {
    /// The call succeeded.
    Done,
    /// The call failed, or the client broke a rule.
    Failed(ErrorFrame),
    /// The client closed (or vanished): nothing more can be sent.
    ClientGone,
    /// The gateway drains.
    Draining,
}

impl End {
    /// The gRPC status the call ended with (none when the client went away).
    fn status(&self) -> Option<Code> {
        match self {
            Self::Done => Some(Code::Ok),
            Self::Failed(frame) => Some(frame.code),
            Self::Draining => Some(Code::Cancelled),
            Self::ClientGone => None,
        }
    }
}

/// What an incoming frame asks for.
enum Next {
    Continue,
    Stop(End),
}

/// One running session.
struct Session<'a> {
    ws: WebSocketStream<TokioIo<Upgraded>>,
    writer: FrameWriter,
    reader: MessageReader,
    signals: RequestSignals,
    requests: Option<mpsc::Sender<Outgoing>>,
    reading: bool,
    target: &'a TranscodeTarget,
    permit: StreamPermit,
}

/// Serves the session on the connection `upgrade` hands over, to its end.
pub(crate) async fn run(
    target: &TranscodeTarget,
    settings: &StreamSettings,
    session: WebSocketSession,
    upgrade: OnUpgrade,
) {
    let Ok(upgraded) = upgrade.await else { return };
    let limit = Some(settings.max_message_bytes);
    let config = WebSocketConfig::default().max_message_size(limit).max_frame_size(limit);
    let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let WebSocketSession { reader, metadata, context, permit, _held } = session;
    let (tx, rx) = mpsc::channel(1);
    let (signals, mut events) = RequestSignals::pair();
    let writer = FrameWriter::new(Framing::WebSocket, true, None, target.renderer.clone());
    let mut session =
        Session { ws, writer, reader, signals, requests: Some(tx), reading: true, target, permit };
    let end = {
        let opening =
            duplex::open(target, settings, ReceiverStream::new(rx), metadata, &context, &mut events);
        session.serve(settings, &context, opening).await
    };
    session.close(end).await;
}

impl Session<'_> {
    /// Opens the call while reading the client's frames, then relays
    /// replies and requests until one side ends.
    async fn serve(
        &mut self,
        settings: &StreamSettings,
        context: &RequestContext,
        opening: impl Future<Output = Result<(Opened, Picked), TranscodeError>>,
    ) -> End {
        let drain = context.connection().state.drain_asked();
        tokio::pin!(drain, opening);
        let lasting = async {
            match settings.max_duration {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(lasting);
        let opened = loop {
            tokio::select! {
                biased;
                () = &mut drain => return End::Draining,
                opened = &mut opening => break opened,
                incoming = self.ws.next(), if self.reading => {
                    if let Next::Stop(end) = self.incoming(incoming).await {
                        return end;
                    }
                }
            }
        };
        let ((_, _, mut stream), mut picked) = match opened {
            Ok(opened) => opened,
            Err(error) => return End::Failed(error_frame(error)),
        };
        let period = settings.ping_interval;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let idle = settings.idle_timeout;
        let quiet = tokio::time::sleep(idle.unwrap_or(Duration::MAX / 4));
        tokio::pin!(quiet);
        let (end, outcome) = loop {
            tokio::select! {
                biased;
                () = &mut drain => break (End::Draining, Outcome::Ignored),
                () = &mut lasting => break (End::Failed(error_frame(max_duration_passed(settings))), Outcome::Ignored),
                () = &mut quiet, if idle.is_some() => {
                    let message = format!("no message within the stream's idle_timeout of {:?}", idle.unwrap_or_default());
                    break (End::Failed(error_frame(TranscodeError::StreamTimeout(message))), Outcome::Ignored);
                }
                reply = stream.message() => match reply {
                    Ok(Some(message)) => {
                        if let Some(idle) = idle {
                            quiet.as_mut().reset(tokio::time::Instant::now() + idle);
                        }
                        let frame = match self.writer.message(&message) {
                            Ok(frame) => frame,
                            Err(error) => break (End::Failed(error_frame(error.into())), Outcome::Success),
                        };
                        if self.send_text(frame).await.is_err() {
                            break (End::ClientGone, Outcome::Ignored);
                        }
                        self.permit.sent_one();
                    }
                    Ok(None) => break (End::Done, Outcome::Success),
                    Err(status) => {
                        let outcome = crate::transcode::outcome::of_status(&status, &self.target.upstream);
                        let error = failure_of(status, &self.target.upstream, &self.target.pool, None);
                        break (End::Failed(error_frame(error)), outcome);
                    }
                },
                incoming = self.ws.next(), if self.reading => {
                    if let Some(idle) = idle {
                        quiet.as_mut().reset(tokio::time::Instant::now() + idle);
                    }
                    if let Next::Stop(end) = self.incoming(incoming).await {
                        break (end, Outcome::Ignored);
                    }
                }
                _ = ping.tick() => {
                    if self.ws.send(Message::Ping(Bytes::new())).await.is_err() {
                        break (End::ClientGone, Outcome::Ignored);
                    }
                }
            }
        };
        if let Some(code) = end.status() {
            picked.ended_with(code);
        }
        picked.finish(outcome);
        end
    }

    /// Acts on one frame from the client.
    async fn incoming(&mut self, incoming: Option<Result<Message, WsError>>) -> Next {
        let text = match incoming {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                let error =
                    TranscodeError::BadStream("a request message is a text frame of JSON, not binary".into());
                return self.failed(error).await;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return Next::Continue,
            Some(Ok(Message::Close(_))) | None => {
                self.reading = false;
                return Next::Stop(End::ClientGone);
            }
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { max_size, .. }))) => {
                let index = self.reader.count.load(std::sync::atomic::Ordering::Relaxed);
                let error = TranscodeError::StreamTooLarge(format!(
                    "request message {index} is larger than {max_size} bytes (grpc.stream.max_message_bytes)"
                ));
                return self.failed(error).await;
            }
            Some(Err(_)) => {
                self.reading = false;
                return Next::Stop(End::ClientGone);
            }
        };
        // An empty text frame half-closes the request stream.
        if text.is_empty() {
            self.requests = None;
            self.signals.end();
            return Next::Continue;
        }
        let Some(requests) = self.requests.as_ref() else {
            let error =
                TranscodeError::BadStream("a message after the request stream was half-closed".into());
            return self.failed(error).await;
        };
        match self.reader.bind(&Bytes::from(text)) {
            Ok(message) => match requests.send(Outgoing::Message(message)).await {
                Ok(()) => Next::Continue,
                // The call is over; its end comes from the reply side.
                Err(_) => Next::Continue,
            },
            Err(error) => self.failed(error).await,
        }
    }

    /// The request side failed: the call is reset, the session ends with `error`.
    async fn failed(&mut self, error: TranscodeError) -> Next {
        if let Some(requests) = self.requests.take() {
            let _ = requests.send(Outgoing::Abort).await;
        }
        Next::Stop(End::Failed(error_frame(error)))
    }

    async fn send_text(&mut self, frame: Bytes) -> Result<(), WsError> {
        let text = String::from_utf8(frame.to_vec()).unwrap_or_default();
        self.ws.send(Message::text(text)).await
    }

    /// Sends the end: the error frame if any, the close frame, and waits a
    /// moment for the client's close.
    async fn close(mut self, end: End) {
        self.permit.ended(match &end {
            End::Done => "complete",
            End::Failed(_) => "error",
            End::ClientGone => "client_gone",
            End::Draining => "drained",
        });
        let close =
            |code: u16, reason: &str| CloseFrame { code: CloseCode::from(code), reason: reason.into() };
        let frame = match end {
            End::ClientGone => {
                let _ = self.ws.flush().await;
                return;
            }
            End::Done => close(1000, ""),
            End::Draining => close(1001, "the gateway is shutting down"),
            End::Failed(error) => {
                let code = 4000 + error.code as u16;
                let reason = truncated(&error.message, MAX_REASON).to_owned();
                let frame = self.writer.close(Some(&error));
                if self.send_text(frame).await.is_err() {
                    return;
                }
                close(code, &reason)
            }
        };
        if self.ws.close(Some(frame)).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, async { while self.ws.next().await.is_some() {} }).await;
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
