//! Rules on the request head that hold before the gateway sees it: how many
//! header lines it may carry (hyper counts them on HTTP/1 only), and what
//! becomes of header names holding underscores, which some frameworks read
//! as the dashed name (`x_user_id` as `x-user-id`) and so could carry a
//! header past rules written for the dashed one.
//!
//! It looks at the head only; it knows nothing of routes or bodies.

use http::{HeaderMap, HeaderName, StatusCode};
use tonic::Code;

use super::HeadLimits;
use crate::{config::UnderscoreHeaders, error::GatewayError};

/// The head's rules, from the limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct HeadRules {
    max_headers: usize,
    underscores: UnderscoreHeaders,
}

impl HeadRules {
    pub(super) fn new(limits: HeadLimits) -> Self {
        Self { max_headers: limits.max_headers, underscores: limits.headers_with_underscores }
    }

    /// Admits a request's `headers` (its underscored headers dropped, by
    /// default) or answers it: 431 past the header count, 400 for an
    /// underscore when so configured.
    pub(super) fn admit(self, headers: &mut HeaderMap) -> Result<(), Box<GatewayError>> {
        if headers.len() > self.max_headers {
            let message = format!(
                "the request has {} header lines, over the limit of {} (limits.max_headers)",
                headers.len(),
                self.max_headers
            );
            let error = GatewayError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Code::ResourceExhausted,
                message,
            );
            return Err(Box::new(error));
        }
        if self.underscores == UnderscoreHeaders::Allow {
            return Ok(());
        }
        let Some(first) = headers.keys().find(|name| name.as_str().contains('_')) else { return Ok(()) };
        if self.underscores == UnderscoreHeaders::Refuse {
            let message = format!(
                "header names with underscores are refused: {first:?} (limits.headers_with_underscores)"
            );
            return Err(Box::new(GatewayError::bad_request(message)));
        }
        drop_underscored(headers);
        Ok(())
    }
}

fn drop_underscored(headers: &mut HeaderMap) {
    let underscored: Vec<HeaderName> =
        headers.keys().filter(|name| name.as_str().contains('_')).cloned().collect();
    for name in underscored {
        headers.remove(&name);
    }
}
