//! `GET /metrics`: the gateway's Prometheus text. What is read at a scrape
//! rather than counted per request is gathered here from the rooms that
//! own it (each upstream's snapshot, the reloader's counters, each TLS
//! listener's `TlsStats`, each listener's `ConnectionStats`) and handed to [`Metrics::render`].

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};

use crate::{
    gateway::Gateway,
    observe::metrics::{ListenerConnections, Metrics, Pulled, TlsListenerStats},
    reload::Reloader,
    server::{ConnectionStats, tls::TlsStats},
};

/// What a scrape reads.
#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    gateway: Arc<Gateway>,
    reloader: Option<Arc<Reloader>>,
    tls: Arc<[(SocketAddr, Arc<TlsStats>)]>,
    connections: Arc<[(SocketAddr, Arc<ConnectionStats>)]>,
}

/// The `/metrics` route.
pub(super) fn routes(
    metrics: Arc<Metrics>,
    gateway: Arc<Gateway>,
    reloader: Option<Arc<Reloader>>,
    tls: Vec<(SocketAddr, Arc<TlsStats>)>,
    connections: Vec<(SocketAddr, Arc<ConnectionStats>)>,
) -> Router {
    let scrape = Scrape { metrics, gateway, reloader, tls: tls.into(), connections: connections.into() };
    Router::new().route("/metrics", get(render)).with_state(scrape)
}

async fn render(State(scrape): State<Scrape>) -> impl IntoResponse {
    let pulled = Pulled {
        upstreams: scrape
            .gateway
            .runtime()
            .upstreams()
            .values()
            .map(|upstream| upstream.snapshot())
            .collect(),
        reloads: scrape
            .reloader
            .as_ref()
            .map(|reloader| (reloader.reloads_succeeded(), reloader.reloads_failed(), reloader.generation())),
        tls: scrape
            .tls
            .iter()
            .map(|(listener, stats)| TlsListenerStats {
                listener: *listener,
                handshake_failures: stats.handshake_failures(),
                reloads: stats.reloads(),
                failed_reloads: stats.failed_reloads(),
            })
            .collect(),
        connections: scrape
            .connections
            .iter()
            .map(|(listener, stats)| ListenerConnections {
                listener: *listener,
                open: stats.open(),
                refused: stats.refused(),
            })
            .collect(),
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], scrape.metrics.render(&pulled))
}
