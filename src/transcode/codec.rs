//! A tonic codec for `DynamicMessage`: requests are encoded from whatever
//! message the binder built, replies are decoded against the method's output
//! descriptor, which the route resolved at compile time.
//!
//! A reply whose fields are all defaults arrives as a zero-length frame; it
//! decodes to a default message like any other.
//!
//! A client or bidirectional stream sends [`Outgoing`] items ([`StreamCodec`]):
//! messages, or an abort that fails the request body, so that the backend
//! sees the stream reset (`CANCEL`) rather than ended, never a half message.

use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// The codec of one method.
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
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder { reply: self.reply.clone() }
    }
}

/// Encodes a request message.
#[derive(Debug, Clone, Copy)]
pub struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        // `encode` would first walk the whole message for its length, only
        // to check that the buffer has room; an `EncodeBuf` grows as it is
        // written, so the fields go straight in.
        item.encode_raw(dst);
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
        DynamicMessage::decode(self.reply.clone(), src).map(Some).map_err(|error| {
            Status::internal(format!(
                "the backend's reply is not a valid {}: {error}",
                self.reply.full_name()
            ))
        })
    }
}

/// What a client stream sends next: a message, or the abort of the stream.
#[derive(Debug)]
pub enum Outgoing {
    /// One request message.
    Message(DynamicMessage),
    /// The request stream failed: reset the call.
    Abort,
}

/// The codec of a client or bidirectional stream: [`Outgoing`] items out,
/// replies decoded as the method's output.
#[derive(Debug, Clone)]
pub struct StreamCodec {
    reply: MessageDescriptor,
}

impl StreamCodec {
    /// A codec that decodes replies as `reply`.
    pub fn new(reply: MessageDescriptor) -> Self {
        Self { reply }
    }
}

impl Codec for StreamCodec {
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

/// Encodes request messages; an abort fails the body with an h2 `CANCEL`
/// as its source, which hyper sends to the backend as `RST_STREAM(CANCEL)`.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingEncoder;

impl Encoder for OutgoingEncoder {
    type Item = Outgoing;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        match item {
            Outgoing::Message(message) => DynamicEncoder.encode(message, dst),
            Outgoing::Abort => {
                let mut status = Status::cancelled("the request stream failed");
                status.set_source(std::sync::Arc::new(h2::Error::from(h2::Reason::CANCEL)));
                Err(status)
            }
        }
    }
}
