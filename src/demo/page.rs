//! The demo's web page: a small HTTP server that the demo gateway reaches
//! through a pass-through route (`/demo/`), serving one page that calls the
//! demo's streams the ways a browser can: an `EventSource` on a server
//! stream, a `WebSocket` on the bidirectional Chat stream, a streaming
//! `fetch` of NDJSON, and gRPC-Web calls with frames built by hand.
//!
//! The page lists what each call saw, and writes them all, as JSON, into its
//! `#out` element once every call ended (`data-done="true"`), which is what
//! the headless-browser test reads.

use std::{io, net::SocketAddr};

use axum::{Router, http::header, response::IntoResponse, routing::get};
use tokio::{net::TcpListener, sync::watch};

/// The page's path on the gateway (and on this server).
pub const PAGE_PATH: &str = "/demo/streams.html";

/// The page itself.
const STREAMS_PAGE: &str = include_str!("page/streams.html");

/// A running page server; stops when dropped.
#[derive(Debug)]
pub struct DemoPage {
    addr: SocketAddr,
    /// Never sent on: dropping it is the shutdown signal.
    _shutdown: watch::Sender<()>,
}

impl DemoPage {
    /// Binds `addr` (port 0 for an ephemeral port) and serves the page in a
    /// background task.
    pub async fn start(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new().route(PAGE_PATH, get(streams_page)).route("/demo/", get(streams_page));
        let (shutdown, mut stopped) = watch::channel(());
        tokio::spawn(async move {
            let stop = async move { while stopped.changed().await.is_ok() {} };
            if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
                tracing::error!("the demo page server stopped: {error}");
            }
        });
        Ok(Self { addr, _shutdown: shutdown })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn streams_page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], STREAMS_PAGE)
}
