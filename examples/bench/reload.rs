//! A reload of the 11 000-route config in the running gateway, under load
//! (issue 9): the same open-loop load first without a reload, then with
//! `POST /reload` on the admin listener, each a second after the last one
//! ended; the reload's time (the admin call's round trip: it answers once
//! the new routes are swapped in) and the slowest request of each run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use http::Method;
use serde::Serialize;

use crate::configs::GatewayOptions;
use crate::load::{self, HttpCall, PooledHttp, Window};
use crate::process::free_port;
use crate::report::{Row, latency_table};
use crate::scale;
use crate::scenarios::{Bench, GET_ITEM, probe, sample};

/// The reload must take less than this.
const RELOAD_TARGET_MS: f64 = 1_000.0;
/// "No request waits on it": the slowest request during reloads is at most
/// this many times the slowest without.
const WAIT_TARGET: f64 = 2.0;
/// The rest between the end of a reload and the next.
const RELOAD_GAP: Duration = Duration::from_secs(1);

/// What the reload scenario measured.
#[derive(Debug, Serialize)]
pub struct ReloadFigures {
    /// The routes the gateway serves (`GET /routes`).
    pub routes: usize,
    /// Each reload's time, in ms.
    pub reload_ms: Vec<f64>,
    /// The load without a reload.
    pub quiet: Row,
    /// The same load with the reloads.
    pub reloading: Row,
    /// Every reload under [`RELOAD_TARGET_MS`].
    pub reload_holds: bool,
    /// The slowest request with reloads within [`WAIT_TARGET`] × the slowest without.
    pub no_wait_holds: bool,
}

impl Bench {
    /// Starts the gateway with the scale services beside the bench's and
    /// measures it without, then with reloads, at `rate` requests a second
    /// (latency from when each request was due).
    pub async fn reload_under_load(&self, rate: u32) -> anyhow::Result<ReloadFigures> {
        scale::write_descriptors(&self.workdir)?;
        let admin = free_port()?;
        let options = GatewayOptions { admin: Some(admin), scale: true, ..GatewayOptions::default() };
        let (gateway, addr) = self.start_gateway("reload", &options).await?;
        let get = Arc::new(HttpCall::get(GET_ITEM));
        probe(addr, &get).await.context("the reloading gateway's GET")?;
        let routes = route_count(admin).await?;
        let caller = PooledHttp::new(addr, get);

        let quiet = self
            .measure_open(&format!("GET at {rate}/s, no reload"), caller.clone(), rate, Some(&gateway))
            .await;
        let window = Window::new(crate::scenarios::WARM_UP, self.seconds);
        let name = format!("GET at {rate}/s, reloads 1 s apart");
        let (tally, used, reload_ms) = tokio::join!(
            load::open_loop(caller, rate, window),
            sample(Some(&gateway), window),
            reload_through(admin, window),
        );
        let reload_ms = reload_ms?;
        println!("  {name}: {} requests, reloads took {reload_ms:.0?} ms", tally.latency.len());
        let reloading = Row::measured(&name, &tally, self.seconds.as_secs_f64(), used);
        Ok(ReloadFigures {
            routes,
            reload_holds: reload_ms.iter().all(|ms| *ms < RELOAD_TARGET_MS),
            no_wait_holds: reloading.max_us <= WAIT_TARGET * quiet.max_us,
            reload_ms,
            quiet,
            reloading,
        })
    }
}

/// `POST /reload` at the start of `window` and [`RELOAD_GAP`] after each
/// one ends, while the window lasts; each one's time in ms.
async fn reload_through(admin: SocketAddr, window: Window) -> anyhow::Result<Vec<f64>> {
    let reload =
        PooledHttp::new(admin, Arc::new(HttpCall { method: Method::POST, ..HttpCall::get("/reload") }));
    let mut times = Vec::new();
    let mut next = window.measure_from;
    while next < window.until {
        tokio::time::sleep_until(next.into()).await;
        let started = Instant::now();
        let report = reload.fetch().await.map_err(anyhow::Error::msg).context("POST /reload")?;
        times.push(started.elapsed().as_secs_f64() * 1_000.0);
        let report: serde_json::Value =
            serde_json::from_slice(&report).context("the reload's report is not JSON")?;
        ensure!(report["result"] == "ok", "the reload was refused: {report}");
        next = Instant::now() + RELOAD_GAP;
    }
    Ok(times)
}

/// The routes `GET /routes` lists.
async fn route_count(admin: SocketAddr) -> anyhow::Result<usize> {
    let routes = probe(admin, &Arc::new(HttpCall::get("/routes"))).await.context("GET /routes")?;
    let routes: serde_json::Value = serde_json::from_slice(&routes).context("GET /routes is not JSON")?;
    routes.as_array().map(Vec::len).context("GET /routes is not a list")
}

impl ReloadFigures {
    /// Its Markdown lines.
    pub fn table(&self) -> String {
        let holds = |holds: bool| if holds { "holds" } else { "does not hold" };
        let slowest = self.reload_ms.iter().copied().fold(0.0, f64::max);
        let mut out = format!(
            "\nReload: {} routes, {} reload(s) under load, each {} ms (slowest {slowest:.0} ms; target < {RELOAD_TARGET_MS:.0} ms: {}).\n\n{}",
            self.routes,
            self.reload_ms.len(),
            self.reload_ms.iter().map(|ms| format!("{ms:.0}")).collect::<Vec<_>>().join(", "),
            holds(self.reload_holds),
            latency_table(&[&self.quiet, &self.reloading]),
        );
        out.push_str(&format!(
            "\nNo request waits on a reload (the slowest request with reloads at most {WAIT_TARGET}× the slowest without): {}.\n",
            holds(self.no_wait_holds)
        ));
        out
    }
}
