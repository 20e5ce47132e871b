//! The binder's wire path: a request written straight as protobuf wire
//! bytes (src/transcode/wire/), for the bindings where that gives what the
//! `DynamicMessage` path builds: the JSON body (whole or one message
//! field) written as it is parsed, then the path variables appended (the
//! wire keeps a singular field's last value, so they win over the body as
//! they do there). A body-less binding writes its query message, then the
//! variables.
//!
//! Kept on the `DynamicMessage` path (no [`WireBinding`]): an update mask,
//! a non-message or `google.api.HttpBody` body, a variable that binds a
//! message, a message tree the codec does not take on. And per request: a
//! body field with a query string, and any input the codec stops at, which
//! [`RequestBinder::bind_wire`] then binds the old way, so errors are the
//! same.

use std::sync::Arc;

use bytes::Bytes;

use super::{Body, RequestBinder, check_json_type, prescan, query, scalar};
use crate::transcode::codec::Outgoing;
use crate::transcode::wire::{self, Fallback, Plans};

use super::error::BindFailure;

/// What a binding needs to take the wire path.
#[derive(Debug, Clone)]
pub(super) struct WireBinding {
    /// The plans of the body's message (none when there is no body).
    body: Option<Arc<Plans>>,
}

impl WireBinding {
    /// The wire path of `binder`, if it can take one.
    pub(super) fn compile(binder: &RequestBinder) -> Option<Self> {
        if binder.update_mask.is_some()
            || !binder.variables.iter().all(|variable| wire::can_append(variable.path.leaf()))
        {
            return None;
        }
        let body = match &binder.body {
            Body::None => None,
            Body::Json { plan, .. } => Some(Arc::new(Plans::compile(plan.root().descriptor())?)),
            Body::Raw { .. } | Body::Value { .. } => return None,
        };
        Some(Self { body })
    }
}

impl RequestBinder {
    /// Binds a request as [`RequestBinder::bind`] does, written as wire
    /// bytes when the binding and the input allow it, else as a message.
    pub fn bind_wire(
        &self,
        captures: &[String],
        query: Option<&str>,
        body: &Bytes,
        content_type: Option<&str>,
    ) -> Result<Outgoing, BindFailure> {
        if let Some(wire) = &self.wire
            && let Ok(bytes) = self.write_wire(wire, captures, query, body, content_type)
        {
            return Ok(Outgoing::Wire(bytes));
        }
        self.bind(captures, query, body, content_type).map(Outgoing::Message)
    }

    fn write_wire(
        &self,
        wire: &WireBinding,
        captures: &[String],
        query: Option<&str>,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<Bytes, Fallback> {
        if captures.len() != self.variables.len() {
            return Err(Fallback);
        }
        let mut out = Vec::with_capacity(body.len() + 64);
        match (&self.body, &wire.body) {
            (Body::Json { at, .. }, Some(plans)) => {
                if !body.is_empty() {
                    check_json_type(content_type).map_err(|_| Fallback)?;
                    prescan::check(body, &self.options.limits).map_err(|_| Fallback)?;
                    let fields = at.as_ref().map_or(&[][..], |path| path.fields());
                    let reject_unknown = self.options.reject_unknown_fields;
                    wire::within(&mut out, fields, |out| {
                        wire::json_to_wire(plans, 0, body, reject_unknown, out)
                    })?;
                }
                match (at, query) {
                    (None, Some(query)) => self.no_query_parameters(query).map_err(|_| Fallback)?,
                    (Some(_), Some(_)) => return Err(Fallback),
                    (_, None) => {}
                }
            }
            (Body::None, _) => {
                if let Some(query) = query {
                    let message =
                        query::query_message(&self.input, query, &self.options).map_err(|_| Fallback)?;
                    prost::Message::encode_raw(&message, &mut out);
                }
            }
            _ => return Err(Fallback),
        }
        for (variable, capture) in self.variables.iter().zip(captures) {
            let value = scalar::parse_value(&variable.form, capture, &variable.name).map_err(|_| Fallback)?;
            wire::append_field(&mut out, variable.path.parents(), variable.path.leaf(), &value)?;
        }
        Ok(Bytes::from(out))
    }
}
