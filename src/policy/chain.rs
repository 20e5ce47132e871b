//! The policy chain of one route, and the request phase it runs.

use std::sync::Arc;

use http::{HeaderMap, request::Parts};

use super::cors::CorsPolicy;
use crate::error::GatewayError;

/// The compiled policies of one route, in the order they run.
#[derive(Debug, Clone, Default)]
pub struct PolicyChain {
    cors: Option<Arc<CorsPolicy>>,
}

/// A request the chain let through: headers for its response.
#[derive(Debug, Default)]
pub struct Admission {
    /// Added to the target's response (CORS, rate-limit headers).
    pub response_headers: HeaderMap,
}

impl PolicyChain {
    /// A chain of the given policies.
    pub fn new(cors: Option<Arc<CorsPolicy>>) -> Self {
        Self { cors }
    }

    /// The route's CORS policy, which answers its preflights.
    pub fn cors(&self) -> Option<&CorsPolicy> {
        self.cors.as_deref()
    }

    /// Runs the request phase: the request is let through with headers for
    /// its response, or refused (the refusal carries those headers too).
    pub async fn admit(&self, parts: &mut Parts) -> Result<Admission, Box<GatewayError>> {
        let mut admission = Admission::default();
        if let Some(cors) = &self.cors {
            cors.decorate(&parts.headers, &mut admission.response_headers);
        }
        Ok(admission)
    }
}
