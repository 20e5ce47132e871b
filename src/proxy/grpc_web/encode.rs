//! The body of a gRPC-Web answer: the upstream's messages as they come,
//! then its status as the trailer frame (`0x80`, a 4-byte length, and
//! `name: value\r\n` lines); for text clients all of it in base64, each
//! chunk encoded as it passes (at most two bytes held for the next), padded
//! only at the end.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tonic::Code;

use super::GrpcWebMode;
use crate::{
    body::{BoxError, ResponseBody},
    observe::RequestContext,
};

/// The first byte of a gRPC-Web trailer frame.
const TRAILER_FLAG: u8 = 0x80;

/// The status headers of a trailers-only gRPC answer.
const STATUS_HEADERS: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// The status headers among `headers` (a trailers-only answer's head).
pub(super) fn status_headers(headers: &HeaderMap) -> HeaderMap {
    STATUS_HEADERS
        .iter()
        .filter_map(|&name| Some((http::HeaderName::from_static(name), headers.get(name)?.clone())))
        .collect()
}

/// A gRPC-Web trailer frame holding `trailers`.
fn trailer_frame(trailers: &HeaderMap) -> BytesMut {
    let length: usize = trailers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    let mut frame = BytesMut::with_capacity(5 + length);
    frame.put_u8(TRAILER_FLAG);
    frame.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    for (name, value) in trailers {
        frame.put_slice(name.as_str().as_bytes());
        frame.put_slice(b": ");
        frame.put_slice(value.as_bytes());
        frame.put_slice(b"\r\n");
    }
    frame
}

/// A native gRPC answer's body, as gRPC-Web.
pub(super) struct GrpcWebBody {
    inner: ResponseBody,
    mode: GrpcWebMode,
    /// The status of a trailers-only answer, sent when the body ends
    /// without trailers of its own.
    head_status: Option<HeaderMap>,
    context: Arc<RequestContext>,
    /// Text mode: the bytes (fewer than 3) not encoded yet.
    carry: BytesMut,
    ended: bool,
}

impl GrpcWebBody {
    pub(super) fn new(
        inner: ResponseBody,
        mode: GrpcWebMode,
        head_status: Option<HeaderMap>,
        context: Arc<RequestContext>,
    ) -> Self {
        Self { inner, mode, head_status, context, carry: BytesMut::new(), ended: false }
    }

    /// `bytes` as the client reads them; `last` flushes what text mode held.
    fn encoded(&mut self, bytes: &[u8], last: bool) -> Bytes {
        if self.mode == GrpcWebMode::Binary {
            return Bytes::copy_from_slice(bytes);
        }
        self.carry.extend_from_slice(bytes);
        let whole = if last { self.carry.len() } else { self.carry.len() / 3 * 3 };
        let text = self.carry.split_to(whole);
        Bytes::from(STANDARD.encode(&text))
    }

    /// The trailer frame of `trailers`, the status noted, the body ended.
    fn trailers(&mut self, trailers: &HeaderMap) -> Frame<Bytes> {
        if let Some(code) = trailers.get("grpc-status").and_then(|v| v.to_str().ok()?.parse::<i32>().ok()) {
            self.context.set_grpc_code(Code::from_i32(code));
        }
        self.ended = true;
        Frame::data(self.encoded(&trailer_frame(trailers), true))
    }
}

impl Body for GrpcWebBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) => {
                        let encoded = self.encoded(&data, false);
                        if !encoded.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(encoded))));
                        }
                    }
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        return Poll::Ready(Some(Ok(self.trailers(&trailers))));
                    }
                },
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => {
                    let frame = match self.head_status.take() {
                        Some(status) => self.trailers(&status),
                        None => {
                            self.ended = true;
                            Frame::data(self.encoded(&[], true))
                        }
                    };
                    let empty = frame.data_ref().is_some_and(Bytes::is_empty);
                    return Poll::Ready((!empty).then_some(Ok(frame)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn a_trailer_frame_is_flagged_and_sized() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("5"));
        trailers.insert("grpc-message", HeaderValue::from_static("no%20book"));
        let frame = trailer_frame(&trailers);
        let lines = b"grpc-status: 5\r\ngrpc-message: no%20book\r\n";
        assert_eq!(frame[0], 0x80);
        assert_eq!(u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize, lines.len());
        assert_eq!(&frame[5..], lines);
    }
}
