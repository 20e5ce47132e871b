//! Memory and scale: the demo's idle footprint, what idle keep-alive
//! connections cost the gateway, and how long a large route table takes
//! to load and to match in.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use protogate::compile;
use protogate::config::Config;
use tokio::net::TcpStream;

use crate::configs::GatewayOptions;
use crate::process::{Measured, free_port};
use crate::report::{IdleConnections, Memory};
use crate::scale;
use crate::scenarios::{Bench, WEB_ITEM};

/// Idle keep-alive connections held open against the gateway.
const IDLE_CONNECTIONS: usize = 10_000;
/// Connections opened at once while building them up.
const OPENING_AT_ONCE: usize = 250;

/// Every figure of [`Memory`].
pub async fn measure(bench: &Bench) -> anyhow::Result<Memory> {
    let demo_idle_rss_mib = demo_idle_rss(bench).await?;
    let idle_connections = idle_connection_costs(bench).await?;
    let (scale_routes, scale_load_ms, scale_match_ns) = scale(bench).await?;
    Ok(Memory {
        demo_idle_rss_mib,
        idle_connections,
        scale_services: scale::SERVICES,
        scale_routes,
        scale_load_ms,
        scale_match_ns,
    })
}

/// `protogate demo` (the gateway and its demo backend), after one request
/// and a second of rest.
async fn demo_idle_rss(bench: &Bench) -> anyhow::Result<f64> {
    let addr = free_port()?;
    let listen = addr.to_string();
    let mut demo = Measured::spawn(
        "demo",
        &bench.binaries.protogate,
        &["demo", "--listen", &listen],
        bench.cores.measured,
    )?;
    demo.wait_until_listening(addr).await?;
    let mut connection = connect(addr).await?;
    get(&mut connection, addr, "/v1/shelves").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(demo.rss_kib().0 as f64 / 1024.0)
}

/// What [`IDLE_CONNECTIONS`] idle keep-alive connections add to protogate,
/// and, for reference, to the floor forwarder (bare hyper) and nginx.
async fn idle_connection_costs(bench: &Bench) -> anyhow::Result<IdleConnections> {
    let (gateway, addr) = bench.start_gateway("connections", &GatewayOptions::default()).await?;
    let (open, protogate_mib) = idle_connections(&gateway, addr, "/v1/items/idle").await?;
    drop(gateway);
    let (floor, addr) = bench.start_floor().await?;
    let (_, floor_mib) = idle_connections(&floor, addr, "/v1/items/idle").await?;
    drop(floor);
    let nginx_mib = match bench.start_nginx().await? {
        Some((nginx, addr)) => Some(idle_connections(&nginx, addr, WEB_ITEM).await?.1),
        None => None,
    };
    Ok(IdleConnections { count: IDLE_CONNECTIONS, still_open: open, protogate_mib, floor_mib, nginx_mib })
}

/// Opens [`IDLE_CONNECTIONS`] connections to `process`, each after one GET
/// of `path`, and measures its memory before and after. Returns
/// (connections still open, MiB added).
async fn idle_connections(process: &Measured, addr: SocketAddr, path: &str) -> anyhow::Result<(usize, f64)> {
    let mut first = connect(addr).await?;
    get(&mut first, addr, path).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = process.rss_kib().0;

    let mut held = Vec::with_capacity(IDLE_CONNECTIONS);
    while held.len() < IDLE_CONNECTIONS {
        let batch = OPENING_AT_ONCE.min(IDLE_CONNECTIONS - held.len());
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let path = path.to_owned();
            opening.spawn(async move {
                let mut connection = connect(addr).await?;
                get(&mut connection, addr, &path).await?;
                anyhow::Ok(connection)
            });
        }
        while let Some(opened) = opening.join_next().await {
            held.push(opened??);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = process.rss_kib().0;
    let open = held.iter().filter(|connection| !connection.is_closed()).count();
    Ok((open, after.saturating_sub(before) as f64 / 1024.0))
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn get(connection: &mut SendRequest<Empty<Bytes>>, addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    let request = http::Request::get(path).header(http::header::HOST, addr.to_string()).body(Empty::new())?;
    let response = connection.send_request(request).await?;
    let status = response.status();
    response.into_body().collect().await?;
    ensure!(status.is_success(), "GET {path}: {status}");
    Ok(())
}

/// Loads [`scale::SERVICES`] services of ten routes each, in this process,
/// and matches every route's path. Returns (routes, load ms, ns per match).
async fn scale(bench: &Bench) -> anyhow::Result<(usize, f64, f64)> {
    scale::write_descriptors(&bench.workdir)?;
    let yaml = format!(
        "listen: 127.0.0.1:0\ndescriptors: [{{ file: scale.pb }}]\nupstreams:\n{}routes:\n{}",
        scale::upstream_yaml(bench.backends.grpc),
        scale::routes_yaml()
    );
    let config_path = bench.workdir.write("scale.yaml", &yaml)?;

    let started = Instant::now();
    let config = Config::from_file(&config_path)?;
    let runtime = compile::compile(&config, bench.workdir.path(), &[])
        .await
        .map_err(|errors| anyhow::anyhow!("{errors}"))?
        .runtime;
    let load_ms = started.elapsed().as_secs_f64() * 1_000.0;

    let paths: Vec<String> = (0..scale::SERVICES).map(scale::thing_path).collect();
    for path in &paths {
        ensure!(runtime.router().lookup(&Method::GET, path).is_ok(), "{path} matches no route");
    }
    // The fastest of several batches: a neighbour stealing the core can
    // only make a batch slower, never faster.
    const BATCHES: usize = 20;
    const ROUNDS: usize = 20;
    let mut match_ns = f64::MAX;
    for _ in 0..BATCHES {
        let started = Instant::now();
        for _ in 0..ROUNDS {
            for path in &paths {
                let _ = black_box(runtime.router().lookup(&Method::GET, black_box(path)));
            }
        }
        match_ns = match_ns.min(started.elapsed().as_nanos() as f64 / (ROUNDS * paths.len()) as f64);
    }
    Ok((runtime.routes().len(), load_ms, match_ns))
}
