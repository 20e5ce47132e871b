//! The cost rows of issue 9, each set against the plain transcoded GET
//! (targets.rs): the same GET with metrics (the admin listener on) and the
//! access log (to a file) on, and the same GET over TLS keep-alive.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::configs::GatewayOptions;
use crate::load::{Caller, Http1Connection, HttpCall};
use crate::process::free_port;
use crate::report::Row;
use crate::scenarios::{Bench, probe};
use crate::tls;

/// The GET with metrics and the access log on.
pub const OBSERVED_ROW: &str = "protogate GET + metrics + access log (file)";

/// The GET over TLS.
pub const TLS_ROW: &str = "protogate GET over TLS (keep-alive)";

/// The route id the GET is counted under in the metrics.
const GET_ROUTE: &str = "route=\"GET /v1/items/{id}\"";

/// How long the access log's writer thread may take to catch up.
const LOG_CATCH_UP: Duration = Duration::from_secs(10);

impl Bench {
    /// The GET against a gateway with its admin listener (metrics) and an
    /// access log file; checks afterwards that both counted every request.
    pub async fn observed_row(&self, get: &Arc<HttpCall>) -> anyhow::Result<Row> {
        let admin = free_port()?;
        let log = self.workdir.path().join("access.log");
        // Each repeat starts a new file, so its lines are this run's.
        let _ = std::fs::remove_file(&log);
        let options =
            GatewayOptions { admin: Some(admin), access_log: Some(log.clone()), ..GatewayOptions::default() };
        let (gateway, addr) = self.start_gateway("observed", &options).await?;
        probe(addr, get).await.context("the observed gateway's GET")?;
        let row = self.measure(OBSERVED_ROW, self.http_callers(addr, get), Some(&gateway)).await;
        let counted = counted_gets(admin).await?;
        let lines = log_lines_reaching(&log, row.requests).await?;
        println!("    /metrics counted {counted} GETs; the access log has {lines} lines");
        ensure!(
            counted >= row.requests,
            "{OBSERVED_ROW}: /metrics counted {counted} GETs, fewer than the {} measured",
            row.requests
        );
        ensure!(
            lines >= row.requests,
            "{OBSERVED_ROW}: the access log has {lines} lines, fewer than the {} requests measured",
            row.requests
        );
        Ok(row)
    }

    /// The GET over TLS keep-alive connections (one handshake each, in the
    /// warm-up), to a gateway whose one listener terminates TLS.
    pub async fn tls_row(&self, get: &Arc<HttpCall>) -> anyhow::Result<Row> {
        let (cert, dialer) = tls::test_pki(&self.workdir)?;
        let options = GatewayOptions { tls: Some(cert), ..GatewayOptions::default() };
        let (gateway, addr) = self.start_gateway("tls", &options).await?;
        let answered = Http1Connection::over_tls(addr, get.clone(), dialer.clone()).call().await;
        ensure!(answered == Ok(true), "the TLS gateway's GET: {answered:?}");
        let callers = (0..self.connections)
            .map(|_| Http1Connection::over_tls(addr, get.clone(), dialer.clone()))
            .collect();
        Ok(self.measure(TLS_ROW, callers, Some(&gateway)).await)
    }
}

/// The GETs `protogate_requests_total` counted on the admin listener `admin`.
async fn counted_gets(admin: SocketAddr) -> anyhow::Result<u64> {
    let text = probe(admin, &Arc::new(HttpCall::get("/metrics")))
        .await
        .context("GET /metrics on the admin listener")?;
    let text = String::from_utf8_lossy(&text);
    let counts = text
        .lines()
        .filter(|line| line.starts_with("protogate_requests_total{") && line.contains(GET_ROUTE))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok());
    Ok(counts.sum::<f64>() as u64)
}

/// The lines of the access log once it has `expected` of them, or what it
/// has after [`LOG_CATCH_UP`].
async fn log_lines_reaching(log: &Path, expected: u64) -> anyhow::Result<u64> {
    let deadline = Instant::now() + LOG_CATCH_UP;
    loop {
        let text =
            std::fs::read(log).with_context(|| format!("cannot read the access log {}", log.display()))?;
        let lines = text.iter().filter(|byte| **byte == b'\n').count() as u64;
        if lines >= expected || Instant::now() >= deadline {
            return Ok(lines);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
