//! The admin API's reload endpoints, when the gateway has a [`Reloader`]:
//!
//! - `GET /config`: the running config as JSON (secrets redacted), its
//!   generation, the reload counters and the last reload (time, result,
//!   errors, route changes).
//! - `POST /reload`: reloads now; 200 with the report when it was swapped
//!   in, 422 with its errors when it was refused (the old config serves on).
//! - `POST /reload?dry_run=true`: the same report, swapping nothing: the
//!   routes a reload would add, remove and change, or why it would fail.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{RawQuery, State},
    http::StatusCode,
    routing::{get, post},
};
use serde_json::Value;

use crate::reload::{ReloadReport, ReloadResult, Reloader, Trigger};

/// The routes above, for `reloader`.
pub(super) fn routes(reloader: Arc<Reloader>) -> Router {
    Router::new().route("/config", get(config)).route("/reload", post(reload)).with_state(reloader)
}

async fn config(State(reloader): State<Arc<Reloader>>) -> Json<Value> {
    Json(reloader.status())
}

async fn reload(
    State(reloader): State<Arc<Reloader>>,
    RawQuery(query): RawQuery,
) -> Result<(StatusCode, Json<ReloadReport>), (StatusCode, String)> {
    let dry_run = match query.as_deref().map(dry_run_of) {
        None => false,
        Some(Some(dry_run)) => dry_run,
        Some(None) => {
            let message = "unknown query: POST /reload takes only dry_run=true or dry_run=false";
            return Err((StatusCode::BAD_REQUEST, message.to_owned()));
        }
    };
    let report =
        if dry_run { reloader.dry_run(Trigger::Admin).await } else { reloader.reload(Trigger::Admin).await };
    let status = match report.result {
        ReloadResult::Ok => StatusCode::OK,
        ReloadResult::Failed => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok((status, Json(report)))
}

/// `dry_run=true` (or `1`, or a bare `dry_run`) and `dry_run=false`; `None`
/// for anything else.
fn dry_run_of(query: &str) -> Option<bool> {
    match query {
        "" | "dry_run=false" | "dry_run=0" => Some(false),
        "dry_run" | "dry_run=true" | "dry_run=1" => Some(true),
        _ => None,
    }
}
