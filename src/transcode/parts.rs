//! What a transcoding target is built from ([`TargetParts`], at compile
//! time) and what it is handed for each request ([`TranscodeRequest`]).

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::request::Parts;
use prost_reflect::MethodDescriptor;

use super::{bind::RequestBinder, metadata::MetadataRules, render::ResponseRenderer};
use crate::{observe::RequestContext, upstream::Upstream};

/// What the gateway hands a target: the request head, the router's
/// captures, the whole body and the request's context.
#[derive(Debug)]
pub struct TranscodeRequest<'a> {
    /// Method, URI and headers.
    pub parts: &'a Parts,
    /// The path variables, in template order.
    pub captures: &'a [String],
    /// The request body.
    pub body: Bytes,
    /// The host the client asked for (`Host`, or the HTTP/2 authority).
    pub host: Option<&'a str>,
    /// The request's context: the client's address, the arrival (the
    /// deadline runs from there), the request id; it hears the tries.
    pub context: &'a Arc<RequestContext>,
}

/// How one target is wired, for [`TranscodeTarget::new`].
#[derive(Debug)]
pub struct TargetParts {
    /// The method called.
    pub method: MethodDescriptor,
    /// The compiled request binding.
    pub binder: RequestBinder,
    /// The compiled reply rendering.
    pub renderer: ResponseRenderer,
    /// The upstream called.
    pub upstream: Arc<Upstream>,
    /// The route's deadline (a client's `Grpc-Timeout` may shorten it).
    pub timeout: Duration,
    /// Which headers become metadata.
    pub metadata: Arc<MetadataRules>,
    /// Whether calling the method twice is harmless (see
    /// [`super::idempotency::is_idempotent`]).
    pub idempotent: bool,
    /// The status of a success, unless the backend's `x-http-code` says otherwise.
    pub success_status: http::StatusCode,
    /// A streaming method (server, client or bidirectional): how its
    /// streams are served.
    pub stream: Option<super::stream::StreamSettings>,
}
