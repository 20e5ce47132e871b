//! The tonic codecs of a method. A request goes out as whatever the binder
//! produced ([`Outgoing`]: wire bytes from the wire codec, or a
//! `DynamicMessage`); a client or bidirectional stream sends such items
//! one by one, or an abort that fails the request body, so that the
//! backend sees the stream reset (`CANCEL`) rather than ended, never a half
//! message. Replies are decoded as `DynamicMessage`s against the
//! method's output descriptor ([`DynamicCodec`], for server streams), or
//! kept as their wire bytes ([`WireCodec`], for unary calls, whose renderer
//! reads the wire: src/transcode/wire/).
//!
//! A reply whose fields are all defaults arrives as a zero-length frame; it
//! decodes to a default message like any other.

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// A request message as the binder produced it, or the end of a failed
/// request stream.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// Built as a message (the `DynamicMessage` path).
    Message(DynamicMessage),
    /// Already encoded (the wire codec).
    Wire(Bytes),
    /// The request stream failed: reset the call.
    Abort,
}

impl Outgoing {
    /// Its length as protobuf bytes (none for an abort).
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Message(message) => message.encoded_len(),
            Self::Wire(bytes) => bytes.len(),
            Self::Abort => 0,
        }
    }
}

/// The codec of one method whose replies are decoded as messages.
#[derive(Debug, Clone)]
pub struct DynamicCodec {
    reply: MessageDescriptor,
}

impl DynamicCodec {
    /// A codec that decodes replies as `reply`.
    pub fn new(reply: MessageDescriptor) -> Self {
        Self { reply }
    }
}

impl Codec for DynamicCodec {
    type Encode = Outgoing;
    type Decode = DynamicMessage;
    type Encoder = OutgoingEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        OutgoingEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder { reply: self.reply.clone() }
    }
}

/// The codec of one method whose replies are kept as wire bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireCodec;

impl Codec for WireCodec {
    type Encode = Outgoing;
    type Decode = Bytes;
    type Encoder = OutgoingEncoder;
    type Decoder = WireDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        OutgoingEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        WireDecoder
    }
}

/// Encodes request messages; an abort fails the body with an h2 `CANCEL`
/// as its source, which hyper sends to the backend as `RST_STREAM(CANCEL)`.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingEncoder;

impl Encoder for OutgoingEncoder {
    type Item = Outgoing;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        match item {
            // `encode` would first walk the whole message for its length,
            // only to check that the buffer has room; an `EncodeBuf` grows
            // as it is written, so the fields go straight in.
            Outgoing::Message(message) => message.encode_raw(dst),
            Outgoing::Wire(bytes) => dst.put_slice(&bytes),
            Outgoing::Abort => {
                let mut status = Status::cancelled("the request stream failed");
                status.set_source(std::sync::Arc::new(h2::Error::from(h2::Reason::CANCEL)));
                return Err(status);
            }
        }
        Ok(())
    }
}

/// Decodes reply messages of one type.
#[derive(Debug, Clone)]
pub struct DynamicDecoder {
    reply: MessageDescriptor,
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        decode_reply(&self.reply, src).map(Some)
    }
}

/// Keeps a reply's wire bytes.
#[derive(Debug, Clone, Copy)]
pub struct WireDecoder;

impl Decoder for WireDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Decodes a reply as `reply`; a reply that does not decode is the
/// backend's fault (INTERNAL).
pub(crate) fn decode_reply(reply: &MessageDescriptor, bytes: impl Buf) -> Result<DynamicMessage, Status> {
    DynamicMessage::decode(reply.clone(), bytes).map_err(|error| {
        Status::internal(format!("the backend's reply is not a valid {}: {error}", reply.full_name()))
    })
}
