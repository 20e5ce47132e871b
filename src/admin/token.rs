//! The admin API's bearer token (`admin.token_file`): when one is set,
//! every admin request must carry `Authorization: Bearer <token>`, or is
//! refused 401. Only the token's SHA-256 is kept, and digests are compared
//! in constant time. This decides nothing else.

use std::fmt;

use axum::{
    extract::Request,
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A bearer token, kept as its digest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AdminToken([u8; 32]);

impl AdminToken {
    /// The token `text` (already trimmed).
    pub fn new(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>`.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.split_once(' ') else { return false };
        let given: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        scheme.eq_ignore_ascii_case("bearer") && bool::from(given.ct_eq(&self.0))
    }
}

/// Never shows the token, nor its digest.
impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

/// The layer: passes a request that carries `token`, refuses any other.
pub(super) async fn require(token: AdminToken, request: Request, next: Next) -> Response {
    if token.admits(request.headers()) {
        return next.run(request).await;
    }
    let body =
        axum::Json(serde_json::json!({ "error": "the admin API needs Authorization: Bearer <token>" }));
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
}
