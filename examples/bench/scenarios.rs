//! The closed-loop scenarios, in the order the issues list them: each is a
//! warm-up and a closed-loop run against one target, with the target's
//! process measured alone on its core (the cost rows of issue 9 are in
//! costs.rs). Then the open-loop comparison at a fixed rate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use http::{HeaderValue, Method};

use crate::configs::{self, Backends, GatewayOptions, Workdir};
use crate::load::{self, Caller, GrpcGetItem, Http1Connection, HttpCall, PooledHttp, Window};
use crate::process::{Cores, Measured, free_port};
use crate::report::{OpenLoop, ProcessUse, Row};

/// Requests sent before the measurement starts (connections, caches, JIT-free warm-up of the allocator).
pub const WARM_UP: Duration = Duration::from_secs(1);

/// The small read every GET scenario sends.
pub const GET_ITEM: &str = "/v1/items/item-1?view=full";

/// The pass-through GET (protogate's `/web/` route, nginx's `location /web/`).
pub const WEB_ITEM: &str = "/web/items/item-1";

/// The transcoded GET on a gateway with no metrics, no access log, no TLS:
/// the baseline of the cost rows.
pub const GET_ROW: &str = "protogate GET (path + query)";

/// Why the nginx figures are missing.
pub const NGINX_MISSING: &str = "nginx is not installed (apt-get install nginx)";

/// The programs a run starts.
#[derive(Debug)]
pub struct Binaries {
    pub protogate: PathBuf,
    pub floor: PathBuf,
    pub nginx: Option<PathBuf>,
}

/// The parts of a run (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The closed-loop rows: direct, floor, protogate, nginx.
    Core,
    /// The open-loop comparison at a fixed rate.
    Open,
    /// Metrics and the access log on against off (issue 9).
    Obs,
    /// TLS keep-alive against cleartext (issue 9).
    Tls,
    /// A reload of 11 000 routes under load (issue 9).
    Reload,
    /// Server streams and idle SSE streams (issue 10).
    Stream,
    /// Memory and scale figures.
    Memory,
}

/// What every scenario shares.
pub struct Bench {
    pub seconds: Duration,
    pub connections: usize,
    pub cores: Cores,
    pub binaries: Binaries,
    pub backends: Backends,
    pub workdir: Workdir,
    pub parts: Vec<Part>,
}

impl Bench {
    /// Whether this run includes `part`.
    pub fn runs(&self, part: Part) -> bool {
        self.parts.contains(&part)
    }

    /// The closed-loop rows: direct, floor, protogate GET, (the cost rows,)
    /// protogate POST and pass-through, nginx, protogate guarded.
    pub async fn closed_loop_rows(&self) -> anyhow::Result<Vec<Row>> {
        let mut rows = Vec::new();
        let get = Arc::new(HttpCall::get(GET_ITEM));
        let core = self.runs(Part::Core);

        let floor_json = if core {
            let mut direct = Vec::with_capacity(self.connections);
            for _ in 0..self.connections {
                direct.push(GrpcGetItem::connect(self.backends.grpc).await?);
            }
            rows.push(self.measure("direct gRPC GetItem (baseline)", direct, None).await);

            let (floor, addr) = self.start_floor().await?;
            let json = probe(addr, &get).await.context("the floor forwarder's GET")?;
            rows.push(self.measure("floor forwarder GET", self.http_callers(addr, &get), Some(&floor)).await);
            Some(json)
        } else {
            None
        };
        if !(core || self.runs(Part::Obs) || self.runs(Part::Tls)) {
            return Ok(rows);
        }

        {
            let (gateway, addr) = self.start_gateway("gateway", &GatewayOptions::default()).await?;
            let json = probe(addr, &get).await.context("protogate's GET")?;
            if let Some(floor_json) = &floor_json {
                same_json(floor_json, &json)?;
            }
            rows.push(self.measure(GET_ROW, self.http_callers(addr, &get), Some(&gateway)).await);
            if self.runs(Part::Obs) {
                rows.push(self.observed_row(&get).await?);
            }
            if self.runs(Part::Tls) {
                rows.push(self.tls_row(&get).await?);
            }
            if !core {
                return Ok(rows);
            }

            let post = Arc::new(record_post());
            probe(addr, &post).await.context("protogate's POST")?;
            let name = format!("protogate POST ({} B JSON)", post.body.len());
            rows.push(self.measure(&name, self.http_callers(addr, &post), Some(&gateway)).await);

            let web = Arc::new(HttpCall::get(WEB_ITEM));
            probe(addr, &web).await.context("protogate's pass-through GET")?;
            rows.push(
                self.measure("protogate pass-through GET", self.http_callers(addr, &web), Some(&gateway))
                    .await,
            );
        }

        rows.push(self.nginx_row().await?);

        {
            let guarded = GatewayOptions { guarded: true, ..GatewayOptions::default() };
            let (gateway, addr) = self.start_gateway("guarded", &guarded).await?;
            let mut guarded = HttpCall::get(GET_ITEM);
            let bearer = format!("Bearer {}", configs::jwt_token()?);
            guarded.headers.push((http::header::AUTHORIZATION, HeaderValue::from_str(&bearer)?));
            let guarded = Arc::new(guarded);
            probe(addr, &guarded).await.context("protogate's guarded GET")?;
            let name = "protogate GET + JWT (cached) + rate limit";
            rows.push(self.measure(name, self.http_callers(addr, &guarded), Some(&gateway)).await);
        }
        Ok(rows)
    }

    /// The same fixed rate straight to the backend and through the gateway.
    pub async fn open_loop(&self, rate: u32) -> anyhow::Result<OpenLoop> {
        let direct_caller = GrpcGetItem::connect(self.backends.grpc).await?;
        let direct = self.measure_open(&format!("direct gRPC at {rate}/s"), direct_caller, rate, None).await;
        let (gateway, addr) = self.start_gateway("gateway", &GatewayOptions::default()).await?;
        let caller = PooledHttp::new(addr, Arc::new(HttpCall::get(GET_ITEM)));
        let through =
            self.measure_open(&format!("protogate GET at {rate}/s"), caller, rate, Some(&gateway)).await;
        Ok(OpenLoop { rate, added_p99_us: through.p99_us - direct.p99_us, direct, gateway: through })
    }

    /// Starts a protogate process on its core, serving [`configs::gateway_yaml`].
    pub async fn start_gateway(
        &self,
        name: &str,
        options: &GatewayOptions,
    ) -> anyhow::Result<(Measured, SocketAddr)> {
        let addr = free_port()?;
        let config = self
            .workdir
            .write(&format!("{name}.yaml"), &configs::gateway_yaml(addr, self.backends, options))?;
        let config = config.to_string_lossy();
        let mut gateway = Measured::spawn(
            name,
            &self.binaries.protogate,
            &["run", "--config", &config],
            self.cores.measured,
        )?;
        gateway.wait_until_listening(addr).await?;
        Ok((gateway, addr))
    }

    /// Starts the floor forwarder on its core.
    pub async fn start_floor(&self) -> anyhow::Result<(Measured, SocketAddr)> {
        let addr = free_port()?;
        let backend = format!("http://{}", self.backends.grpc);
        let mut floor = Measured::spawn(
            "floor",
            &self.binaries.floor,
            &[&addr.to_string(), &backend],
            self.cores.measured,
        )?;
        floor.wait_until_listening(addr).await?;
        Ok((floor, addr))
    }

    /// Starts nginx on its core, if it is installed, proxying `/web/` to the HTTP backend.
    pub async fn start_nginx(&self) -> anyhow::Result<Option<(Measured, SocketAddr)>> {
        let Some(nginx) = &self.binaries.nginx else { return Ok(None) };
        let addr = free_port()?;
        let conf = self
            .workdir
            .write("nginx.conf", &configs::nginx_conf(self.workdir.path(), addr, self.backends.http))?;
        let error_log = self.workdir.path().join("nginx-error.log");
        let args = ["-e", &error_log.to_string_lossy(), "-c", &conf.to_string_lossy()].map(str::to_owned);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = Measured::spawn("nginx", nginx, &args, self.cores.measured)?;
        process.wait_until_listening(addr).await?;
        Ok(Some((process, addr)))
    }

    async fn nginx_row(&self) -> anyhow::Result<Row> {
        const NAME: &str = "nginx proxy_pass GET (reference)";
        let Some((process, addr)) = self.start_nginx().await? else {
            return Ok(Row::skipped(NAME, NGINX_MISSING));
        };
        let web = Arc::new(HttpCall::get(WEB_ITEM));
        probe(addr, &web).await.context("nginx's GET")?;
        Ok(self.measure(NAME, self.http_callers(addr, &web), Some(&process)).await)
    }

    pub fn http_callers(&self, addr: SocketAddr, call: &Arc<HttpCall>) -> Vec<Http1Connection> {
        (0..self.connections).map(|_| Http1Connection::new(addr, call.clone())).collect()
    }

    pub async fn measure<C: Caller>(&self, name: &str, callers: Vec<C>, process: Option<&Measured>) -> Row {
        let window = Window::new(WARM_UP, self.seconds);
        let (tally, used) = tokio::join!(load::closed_loop(callers, window), sample(process, window));
        println!("  {name}: {} requests", tally.latency.len());
        Row::measured(name, &tally, self.seconds.as_secs_f64(), used)
    }

    pub async fn measure_open<C: Caller + Clone>(
        &self,
        name: &str,
        caller: C,
        rate: u32,
        process: Option<&Measured>,
    ) -> Row {
        let window = Window::new(WARM_UP, self.seconds);
        let (tally, used) = tokio::join!(load::open_loop(caller, rate, window), sample(process, window));
        println!("  {name}: {} requests", tally.latency.len());
        Row::measured(name, &tally, self.seconds.as_secs_f64(), used)
    }
}

/// The process's CPU over the window and its peak memory at the end.
pub async fn sample(process: Option<&Measured>, window: Window) -> Option<ProcessUse> {
    let process = process?;
    tokio::time::sleep_until(window.measure_from.into()).await;
    let before = process.cpu_micros();
    tokio::time::sleep_until(window.until.into()).await;
    let cpu_micros = process.cpu_micros().saturating_sub(before);
    Some(ProcessUse { cpu_micros, peak_rss_kib: process.rss_kib().1 })
}

/// One request that must succeed; its body.
pub async fn probe(addr: SocketAddr, call: &Arc<HttpCall>) -> anyhow::Result<Bytes> {
    PooledHttp::new(addr, call.clone()).fetch().await.map_err(anyhow::Error::msg)
}

/// The floor and the gateway must do the same work: the same JSON out.
fn same_json(floor: &[u8], gateway: &[u8]) -> anyhow::Result<()> {
    let floor: serde_json::Value = serde_json::from_slice(floor).context("the floor's reply is not JSON")?;
    let gateway: serde_json::Value =
        serde_json::from_slice(gateway).context("the gateway's reply is not JSON")?;
    if floor != gateway {
        bail!("the floor answers {floor} but the gateway {gateway}: they would not be doing the same work");
    }
    Ok(())
}

/// `POST /v1/records` with a Record of about 1 KB of JSON.
fn record_post() -> HttpCall {
    let item = |n: u32| {
        serde_json::json!({
            "id": format!("item-{n}"), "name": format!("component number {n}"), "revision": (1000 + n).to_string(),
            "tags": ["alpha", "beta", "gamma"], "labels": { "team": "storage", "zone": format!("zone-{n}") }
        })
    };
    let record = serde_json::json!({
        "id": "record-42",
        "title": "Quarterly capacity review for the storage fleet",
        "description": "Disk usage grew by eleven percent over the quarter, mostly in the eu-west \
            region, where two new tenants started replicating their archives. The plan is to add \
            four nodes per cluster before the end of next month, retire the oldest generation of \
            hardware, and move cold data to the cheaper tier once the migration tooling is ready. \
            Risks: procurement lead times and the rebalancing load during business hours.",
        "version": "7",
        "tags": ["capacity", "storage", "quarterly", "eu-west", "planning", "hardware"],
        "attributes": { "owner": "infra-team", "priority": "high", "status": "draft", "reviewers": "3" },
        "items": [item(1), item(2), item(3)],
    });
    HttpCall {
        method: Method::POST,
        path_and_query: "/v1/records".into(),
        headers: Vec::new(),
        body: Bytes::from(record.to_string()),
    }
}

/// The run must be clean: every row all 2xx and error-free.
pub fn check_clean(rows: &[&Row]) -> anyhow::Result<()> {
    for row in rows {
        ensure!(
            row.non_2xx == 0 && row.errors == 0,
            "{}: {} non-2xx, {} errors ({})",
            row.scenario,
            row.non_2xx,
            row.errors,
            row.note.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
