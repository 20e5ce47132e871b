//! Opening a call on an endpoint's channel (unary, server-streaming, or
//! with a stream of request messages), the reply's head turned into HTTP
//! headers, and the one reply of a unary or client-streaming call rendered
//! (a unary reply read as wire bytes and rendered from them).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use tonic::{
    client::Grpc,
    codec::{Codec, CompressionEncoding, Streaming},
    metadata::MetadataMap,
};

use super::{Failed, Opened, TranscodeError, TranscodeTarget};
use crate::{
    transcode::{
        codec::{Outgoing, WireCodec},
        metadata,
        render::{Reply, ReplyError},
    },
    upstream::{GrpcChannel, GrpcConnection, Outcome, TryFailure},
};

impl TranscodeTarget {
    /// Opens the call on `channel`: the reply's header metadata as
    /// `Grpc-Metadata-*` headers, what the backend chose for the HTTP
    /// answer, and the reply stream, its messages decoded.
    pub(in crate::transcode) async fn open(
        &self,
        channel: Option<GrpcChannel>,
        call: tonic::Request<Outgoing>,
    ) -> Result<Opened, Failed> {
        self.open_with(channel, call, self.codec.clone()).await
    }

    /// [`Self::open`], the replies read by `codec`.
    async fn open_with<C>(
        &self,
        channel: Option<GrpcChannel>,
        call: tonic::Request<Outgoing>,
        codec: C,
    ) -> Result<Opened<C::Decode>, Failed>
    where
        C: Codec<Encode = Outgoing> + Send + 'static,
        C::Decode: Send + Sync + 'static,
    {
        let mut grpc = self.client(channel).await?;
        // A unary method is called as server-streaming too: the same frames
        // on the wire, but headers and trailers stay apart.
        let reply = grpc
            .server_streaming(call, self.path.clone(), codec)
            .await
            .map_err(|status| self.call_failed(status, None))?;
        Ok(self.opened(reply))
    }

    /// Opens a client or bidirectional stream on `channel`, its request
    /// messages taken from `messages` once the connection is open (a try
    /// whose connection could not be opened leaves them for the next).
    pub(in crate::transcode) async fn open_stream<S>(
        &self,
        channel: Option<GrpcChannel>,
        messages: &std::sync::Mutex<Option<S>>,
        metadata: MetadataMap,
        timeout: Option<Duration>,
    ) -> Result<Opened, Failed>
    where
        S: tokio_stream::Stream<Item = Outgoing> + Send + 'static,
    {
        let mut grpc = self.client(channel).await?;
        let Some(messages) = messages.lock().ok().and_then(|mut slot| slot.take()) else {
            let error = TranscodeError::Internal("a request stream cannot be sent twice".into());
            return Err(Failed { error, outcome: Outcome::Ignored, retry: TryFailure::Final });
        };
        let mut call = tonic::Request::new(messages);
        *call.metadata_mut() = metadata;
        if let Some(timeout) = timeout {
            call.set_timeout(timeout);
        }
        let reply = grpc
            .streaming(call, self.path.clone(), self.codec.clone())
            .await
            .map_err(|status| self.call_failed(status, None))?;
        Ok(self.opened(reply))
    }

    /// A gRPC client on `channel`'s connection, opened first if none is.
    async fn client(&self, channel: Option<GrpcChannel>) -> Result<Grpc<GrpcConnection>, Failed> {
        // Compile gives transcoded routes gRPC upstreams only.
        let channel = channel.ok_or_else(|| Failed {
            error: TranscodeError::Internal("a transcoded route has an HTTP upstream".into()),
            outcome: Outcome::Ignored,
            retry: TryFailure::Final,
        })?;
        // A connection that could not be opened never sent the call.
        let connection = channel
            .connection()
            .await
            .map_err(|error| self.call_failed(tonic::Status::from_error(error), None))?;
        let mut grpc = Grpc::new(connection).max_decoding_message_size(self.upstream.max_response_bytes());
        if self.upstream.gzip() {
            grpc =
                grpc.send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip);
        }
        Ok(grpc)
    }

    /// An opened call's reply head and stream.
    fn opened<T>(&self, reply: tonic::Response<Streaming<T>>) -> Opened<T> {
        let (header_metadata, stream, _) = reply.into_parts();
        let mut reply_metadata = header_metadata.into_headers();
        let overrides = metadata::take_reply_overrides(&mut reply_metadata, self.method.full_name());
        let mut headers = HeaderMap::new();
        metadata::add_header_metadata(
            tonic::metadata::MetadataMap::from_headers(reply_metadata),
            &mut headers,
        );
        (headers, overrides, stream)
    }

    /// One try of a unary call: its one reply, read as wire bytes and
    /// rendered from them.
    pub(super) async fn invoke(
        &self,
        channel: Option<GrpcChannel>,
        call: tonic::Request<Outgoing>,
    ) -> Result<Response<Bytes>, Failed> {
        let opened = self.open_with(channel, call, WireCodec).await?;
        self.one_reply(opened).await
    }

    /// The one reply of an opened call (unary or client-streaming),
    /// rendered. A reply that does not decode fails as it arrives, as a
    /// decoding codec would fail it.
    pub(in crate::transcode) async fn one_reply<T: Reply>(
        &self,
        opened: Opened<T>,
    ) -> Result<Response<Bytes>, Failed> {
        let (mut headers, overrides, mut stream) = opened;
        let rendered = match stream.message().await {
            Ok(Some(reply)) => match reply.render_with(&self.renderer) {
                Err(ReplyError::Decode(status)) => return Err(self.call_failed(status, Some(headers))),
                Err(ReplyError::Render(error)) => Err(error),
                Ok(rendered) => Ok(rendered),
            },
            // The endpoint answered, if not by the protocol.
            Ok(None) => {
                let (error, outcome, retry) = (TranscodeError::NoReply, Outcome::Success, TryFailure::Final);
                return Err(Failed { error, outcome, retry });
            }
            Err(status) => return Err(self.call_failed(status, Some(headers))),
        };
        // A status after the reply still fails the call.
        match stream.trailers().await {
            Ok(Some(trailers)) => metadata::add_trailer_metadata(trailers, &mut headers),
            Ok(None) => {}
            Err(status) => return Err(self.call_failed(status, Some(headers))),
        }
        let status = overrides.status.unwrap_or(self.success_status);
        headers.extend(overrides.headers);
        // A status whose response has no content gets no body.
        if matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            return Ok(response);
        }
        let rendered = rendered?;
        headers.insert(header::CONTENT_TYPE, rendered.content_type);
        let mut response = Response::new(rendered.body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
