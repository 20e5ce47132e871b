//! The body of a gRPC-Web text request, decoded from base64 as it streams:
//! whole 4-character groups are decoded as they arrive (the rest waits for
//! the next chunk), and a padded group ends one base64 segment (clients may
//! send several, each padded). Anything else is [`InvalidBase64`], naming
//! the offset in the body.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

use crate::body::BoxError;

/// A gRPC-Web text body that is not base64.
#[derive(Debug, thiserror::Error)]
#[error("the gRPC-Web text body is not base64 at byte {offset}")]
pub struct InvalidBase64 {
    /// Where the group that does not decode starts, in the body.
    pub offset: u64,
}

/// `inner`'s base64 text, decoded.
pub(super) struct Base64Decoded<B> {
    inner: B,
    /// Text received but not decoded yet (less than a group, or a group
    /// the next chunk completes).
    pending: BytesMut,
    /// The body offset of `pending`'s first byte.
    offset: u64,
    ended: bool,
}

impl<B> Base64Decoded<B> {
    pub(super) fn new(inner: B) -> Self {
        Self { inner, pending: BytesMut::new(), offset: 0, ended: false }
    }

    /// Decodes the whole groups of `pending`.
    fn decode_pending(&mut self) -> Result<Option<Bytes>, InvalidBase64> {
        let whole = self.pending.len() / 4 * 4;
        if whole == 0 {
            return Ok(None);
        }
        let text = self.pending.split_to(whole);
        let mut decoded = Vec::with_capacity(whole / 4 * 3);
        let mut start = 0;
        // Each padded group ends a segment: decode segment by segment.
        while start < text.len() {
            let end = text[start..]
                .iter()
                .position(|&byte| byte == b'=')
                .map_or(text.len(), |at| ((start + at) / 4 + 1) * 4)
                .min(text.len());
            let offset = self.offset + start as u64;
            STANDARD.decode_vec(&text[start..end], &mut decoded).map_err(|_| InvalidBase64 { offset })?;
            start = end;
        }
        self.offset += whole as u64;
        Ok(Some(Bytes::from(decoded)))
    }
}

impl<B> Body for Base64Decoded<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            if let Some(decoded) = self.decode_pending()? {
                return Poll::Ready(Some(Ok(Frame::data(decoded))));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    // A request's trailers mean nothing in gRPC-Web: dropped.
                    if let Ok(mut data) = frame.into_data() {
                        let length = data.remaining();
                        self.pending.extend_from_slice(&data.copy_to_bytes(length));
                    }
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None if self.pending.is_empty() => {
                    self.ended = true;
                }
                None => return Poll::Ready(Some(Err(InvalidBase64 { offset: self.offset }.into()))),
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
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    async fn decoded(chunks: &[&'static str]) -> Result<Vec<u8>, BoxError> {
        let frames =
            chunks.iter().map(|chunk| Ok::<_, BoxError>(Frame::data(Bytes::from_static(chunk.as_bytes()))));
        let body = StreamBody::new(futures_util::stream::iter(frames.collect::<Vec<_>>()));
        Ok(Base64Decoded::new(body).collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn groups_split_across_chunks_and_padded_segments_decode() {
        assert_eq!(decoded(&["aGVs", "bG8", "=", "IHdv", "cmxk"]).await.unwrap(), b"hello world");
        assert_eq!(decoded(&["AA==AAE="]).await.unwrap(), [0, 0, 1]);
        assert_eq!(decoded(&[]).await.unwrap(), b"");
    }

    #[tokio::test]
    async fn bad_text_names_its_offset() {
        let error = decoded(&["aGVs", "b!8="]).await.unwrap_err();
        assert_eq!(error.to_string(), "the gRPC-Web text body is not base64 at byte 4");
        let error = decoded(&["aGVsbG8"]).await.unwrap_err();
        assert_eq!(error.to_string(), "the gRPC-Web text body is not base64 at byte 4");
    }
}
