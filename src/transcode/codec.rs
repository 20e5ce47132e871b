//! A tonic codec for `DynamicMessage`: requests are encoded from whatever
//! message the binder built, replies are decoded against the method's output
//! descriptor, which the route resolved at compile time.
//!
//! A reply whose fields are all defaults arrives as a zero-length frame; it
//! decodes to a default message like any other.

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
