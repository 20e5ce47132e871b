//! The admin listener: liveness, readiness, the route table and the state
//! of every upstream, as JSON, on an address of its own (keep it off the
//! public network).
//!
//! - `GET /healthz`: the process is alive.
//! - `GET /readyz`: a config is loaded, the process is not stopping, and
//!   every upstream a route uses has a healthy endpoint (503 listing the
//!   ones that do not, or saying that it drains).
//! - `GET /routes`: the route table.
//! - `GET /upstreams`: every upstream's breaker and endpoints (healthy,
//!   ejected, in flight).
//! - `GET /explain?request=GET%20/v1/shelves/1`: which route that request
//!   would meet and why ([`crate::explain`]); 400 when it cannot be read.
//! - `GET /openapi.json`: the OpenAPI document of the routes (404 with
//!   `openapi.serve_on: none`).
//! - With a [`Reloader`] ([`AdminOptions::reloader`]): `GET /config` and
//!   `POST /reload` (see `reload.rs`).
//! - With [`Metrics`] ([`AdminOptions::metrics`]): `GET /metrics`, the
//!   Prometheus text (see `metrics.rs`).
//!
//! - `GET /`: the page for people (route table, upstream health, rates,
//!   the last reload, the API reference with a "try it" form; see
//!   `page.rs`), with its assets under `/ui/`.
//!
//! With a token (`admin.token_file`), every request must carry it
//! ([`token`]), except the page and its assets (static files; the page
//! sends the token on its own requests). It reads the gateway's current runtime; only `POST /reload`
//! changes anything, through the reloader.

mod metrics;
mod page;
mod reload;
mod token;

use std::{io, net::SocketAddr, sync::Arc};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{
    gateway::Gateway,
    observe::metrics::Metrics,
    reload::Reloader,
    server::{ConnectionStats, Draining, tls::TlsStats},
    upstream::UpstreamSnapshot,
};
pub use token::AdminToken;

/// What the admin API is given besides the gateway.
#[derive(Clone, Default)]
pub struct AdminOptions {
    /// Raised when the process begins to stop: `/readyz` then answers 503.
    pub draining: Draining,
    /// The bearer token every request must carry, if any.
    pub token: Option<AdminToken>,
    /// The reloader behind `GET /config` and `POST /reload`, if any.
    pub reloader: Option<Arc<Reloader>>,
    /// The metrics behind `GET /metrics`, if collected.
    pub metrics: Option<Arc<Metrics>>,
    /// The counters of each TLS listener, by its configured address, for the metrics.
    pub tls: Vec<(SocketAddr, Arc<TlsStats>)>,
    /// The connections of each listener, by its configured address, for the metrics.
    pub connections: Vec<(SocketAddr, Arc<ConnectionStats>)>,
}

/// What every handler reads.
#[derive(Clone)]
struct AdminState {
    gateway: Arc<Gateway>,
    draining: Draining,
}

/// The admin listener, running in the background.
#[derive(Debug)]
pub struct AdminServer {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Binds `listen` and serves the admin API for `gateway`.
pub async fn start(
    listen: SocketAddr,
    gateway: Arc<Gateway>,
    options: AdminOptions,
) -> io::Result<AdminServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/routes", get(routes))
        .route("/upstreams", get(upstreams))
        .route("/openapi.json", get(openapi))
        .route("/explain", get(explain))
        .with_state(AdminState { gateway: gateway.clone(), draining: options.draining });
    if let Some(metrics) = options.metrics {
        app = app.merge(metrics::routes(
            metrics,
            gateway,
            options.reloader.clone(),
            options.tls,
            options.connections,
        ));
    }
    if let Some(reloader) = options.reloader {
        app = app.merge(reload::routes(reloader));
    }
    app = app.merge(page::routes());
    if let Some(token) = options.token {
        // Around the router: unknown paths are refused 401 too, not 404;
        // the page's static files are served without the token.
        app = app.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                if page::is_page_file(request.uri().path()) {
                    return next.run(request).await;
                }
                token::require(token, request, next).await
            },
        ));
    }
    let (shutdown, shutdown_asked) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serving = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = shutdown_asked.await;
        });
        if let Err(error) = serving.await {
            tracing::warn!(%error, "the admin listener stopped");
        }
    });
    Ok(AdminServer { addr, shutdown, task })
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AdminState>) -> (StatusCode, Json<Value>) {
    let runtime = state.gateway.runtime();
    let unready: Vec<&str> = runtime
        .upstreams()
        .values()
        .filter(|upstream| !upstream.has_healthy_endpoint())
        .map(|upstream| upstream.name())
        .collect();
    let draining = state.draining.is_draining();
    let ready = unready.is_empty() && !draining;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({ "ready": ready, "draining": draining, "upstreams_without_healthy_endpoint": unready });
    (status, Json(body))
}

async fn routes(State(state): State<AdminState>) -> Json<Value> {
    let runtime = state.gateway.runtime();
    let routes: Vec<Value> = runtime
        .routes()
        .iter()
        .map(|route| {
            json!({
                "method": route.method.as_str(),
                "template": route.template,
                "target": route.target,
                "body": route.body,
                "response_body": route.response_body,
                "upstream": route.upstream,
                "policies": route.policies,
            })
        })
        .collect();
    Json(Value::Array(routes))
}

async fn openapi(State(state): State<AdminState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let runtime = state.gateway.runtime();
    let document = runtime.openapi();
    if !document.on_admin {
        let body =
            json!({ "code": 5, "message": "the OpenAPI document is not served (openapi.serve_on: none)" });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    ([(axum::http::header::CONTENT_TYPE, "application/json")], document.json.clone()).into_response()
}

async fn explain(State(state): State<AdminState>, uri: axum::http::Uri) -> (StatusCode, Json<Value>) {
    let request = uri.query().unwrap_or_default().split('&').find_map(|pair| pair.strip_prefix("request="));
    let request = request.map(|text| {
        percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
    });
    let Some(request) = request else {
        let message = "give the request to explain: /explain?request=GET%20/v1/shelves/1";
        return (StatusCode::BAD_REQUEST, Json(json!({ "code": 3, "message": message })));
    };
    match crate::explain::explain(&state.gateway.runtime(), &request) {
        Ok(explanation) => (StatusCode::OK, Json(json!(explanation))),
        Err(error) => (StatusCode::BAD_REQUEST, Json(json!({ "code": 3, "message": error.to_string() }))),
    }
}

async fn upstreams(State(state): State<AdminState>) -> Json<Vec<UpstreamSnapshot>> {
    Json(state.gateway.runtime().upstreams().values().map(|upstream| upstream.snapshot()).collect())
}
