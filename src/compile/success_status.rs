//! `routes[].grpc.success_status`: the status a route's bindings answer
//! with when the call succeeds, keyed by method name (every binding of the
//! method) or by binding (`POST /v1/shelves/{shelf}/books`, which wins).
//! Each status must be a success (200 to 399) and each key must name a
//! method or a binding of the service.

use std::{cell::Cell, collections::BTreeMap};

use http::StatusCode;
use prost_reflect::{MethodDescriptor, ServiceDescriptor};

use super::{CompileErrors, Place};
use crate::http_rule::Binding;

/// The statuses of one route, checked; each remembers whether a binding used it.
pub(super) struct SuccessStatuses {
    entries: Vec<Entry>,
}

struct Entry {
    key: String,
    status: StatusCode,
    place: Place,
    used: Cell<bool>,
}

impl SuccessStatuses {
    /// The statuses at `place` (`routes[i].grpc.success_status`); a status
    /// that is not a success is an error (and left out).
    pub(super) fn new(config: &BTreeMap<String, u16>, place: &Place, errors: &mut CompileErrors) -> Self {
        let mut entries = Vec::new();
        for (key, &code) in config {
            let place = place.key(key);
            match StatusCode::from_u16(code) {
                Ok(status) if status.is_success() || status.is_redirection() => {
                    entries.push(Entry { key: key.clone(), status, place, used: Cell::new(false) })
                }
                _ => errors.push(place, format!("{code} is not a success status (200 to 399)")),
            }
        }
        Self { entries }
    }

    /// The status of `binding` of `method`: its own entry, else its method's, else 200.
    pub(super) fn of(&self, method: &MethodDescriptor, binding: &Binding) -> StatusCode {
        let binding_key = format!("{} {}", binding.method, binding.template);
        let entry = self
            .entries
            .iter()
            .find(|entry| entry.key == binding_key)
            .or_else(|| self.entries.iter().find(|entry| entry.key == method.name()));
        entry.map_or(StatusCode::OK, |entry| {
            entry.used.set(true);
            entry.status
        })
    }

    /// Reports the keys no binding of `service` used.
    pub(super) fn finish(self, service: &ServiceDescriptor, errors: &mut CompileErrors) {
        let methods: Vec<String> = service.methods().map(|method| method.name().to_owned()).collect();
        for entry in self.entries.into_iter().filter(|entry| !entry.used.get()) {
            let mut message = format!("no method or binding {:?} in {}", entry.key, service.full_name());
            if let Some(closest) = crate::suggest::closest(&entry.key, methods.iter().map(String::as_str)) {
                message.push_str(&format!(" (did you mean {closest:?}?)"));
            }
            errors.push(entry.place, message);
        }
    }
}
