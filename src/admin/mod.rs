//! The admin listener: liveness, readiness, the route table and the state
//! of every upstream, as JSON, on an address of its own (keep it off the
//! public network).
//!
//! - `GET /healthz`: the process is alive.
//! - `GET /readyz`: a config is loaded and every upstream a route uses has
//!   a healthy endpoint (503 listing the ones that do not).
//! - `GET /routes`: the route table.
//! - `GET /upstreams`: every upstream's breaker and endpoints (healthy,
//!   ejected, in flight).
//! - With a [`Reloader`] ([`start_reloading`]): `GET /config` and
//!   `POST /reload` (see `reload.rs`).
//!
//! It reads the gateway's current runtime; only `POST /reload` changes
//! anything, through the reloader.

mod reload;

use std::{io, net::SocketAddr, sync::Arc};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{gateway::Gateway, reload::Reloader, upstream::UpstreamSnapshot};

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
pub async fn start(listen: SocketAddr, gateway: Arc<Gateway>) -> io::Result<AdminServer> {
    serve(listen, gateway, None).await
}

/// Binds `listen` and serves the admin API for the gateway of `reloader`,
/// with `/config` and `POST /reload`.
pub async fn start_reloading(listen: SocketAddr, reloader: Arc<Reloader>) -> io::Result<AdminServer> {
    serve(listen, reloader.gateway().clone(), Some(reloader)).await
}

async fn serve(
    listen: SocketAddr,
    gateway: Arc<Gateway>,
    reloader: Option<Arc<Reloader>>,
) -> io::Result<AdminServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/routes", get(routes))
        .route("/upstreams", get(upstreams))
        .with_state(gateway);
    if let Some(reloader) = reloader {
        app = app.merge(reload::routes(reloader));
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

async fn readyz(State(gateway): State<Arc<Gateway>>) -> (StatusCode, Json<Value>) {
    let runtime = gateway.runtime();
    let unready: Vec<&str> = runtime
        .upstreams()
        .values()
        .filter(|upstream| !upstream.has_healthy_endpoint())
        .map(|upstream| upstream.name())
        .collect();
    let status = if unready.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "ready": unready.is_empty(), "upstreams_without_healthy_endpoint": unready })))
}

async fn routes(State(gateway): State<Arc<Gateway>>) -> Json<Value> {
    let runtime = gateway.runtime();
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
            })
        })
        .collect();
    Json(Value::Array(routes))
}

async fn upstreams(State(gateway): State<Arc<Gateway>>) -> Json<Vec<UpstreamSnapshot>> {
    Json(gateway.runtime().upstreams().values().map(|upstream| upstream.snapshot()).collect())
}
