//! Issue 10's numbers: a server stream of [`MESSAGES`] small messages
//! through NDJSON, SSE and WebSocket against the same stream straight from
//! the backend (messages/s, the gateway's CPU per message, its peak RSS;
//! target: at least half the direct rate), and [`IDLE_STREAMS`] idle SSE
//! streams (the gateway's memory per stream; target: at most 64 KiB).
//! Each framing gets a gateway process of its own, so its peak is its own.

use std::time::{Duration, Instant};

use anyhow::ensure;
use serde::Serialize;

use crate::configs::GatewayOptions;
use crate::process::own_cpu_micros;
use crate::scenarios::Bench;
use crate::stream_load::{Framing, IdleStream, read_stream};

/// The messages of the measured stream.
pub const MESSAGES: u32 = 100_000;
/// The messages of the warm-up stream before it.
const WARM_UP_MESSAGES: u32 = 1_000;
/// The idle SSE streams held open at once.
pub const IDLE_STREAMS: usize = 1_000;
/// Streams opened at once while building them up.
const OPENING_AT_ONCE: usize = 100;
/// A framing's rate must be at least this share of the direct rate.
const RATE_TARGET: f64 = 0.5;
/// An idle stream may add at most this much to the gateway.
const IDLE_TARGET_KIB: f64 = 64.0;

/// One stream read to its end.
#[derive(Debug, Serialize)]
pub struct StreamRow {
    pub framing: Framing,
    pub messages: u64,
    pub messages_per_second: f64,
    /// Over the direct rate (none for the direct row).
    pub vs_direct: Option<f64>,
    /// The gateway's CPU per message (none for the direct row).
    pub cpu_us_per_message: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    /// The share of its core the load generator and the backend (this
    /// process) used: near 1, they, not the gateway, set the rate.
    pub load_core_busy: f64,
    /// At least [`RATE_TARGET`] of the direct rate (none for the direct row).
    pub holds: Option<bool>,
}

/// The idle SSE streams.
#[derive(Debug, Serialize)]
pub struct IdleStreams {
    pub count: usize,
    /// Still open when measured.
    pub still_open: usize,
    /// What they added to the gateway's resident memory.
    pub added_mib: f64,
    pub kib_per_stream: f64,
    pub holds: bool,
}

/// Everything the streaming scenario measured.
#[derive(Debug, Serialize)]
pub struct StreamFigures {
    pub rows: Vec<StreamRow>,
    pub idle: IdleStreams,
}

impl Bench {
    /// The direct stream, then each framing through its own gateway, then the idle streams.
    pub async fn streams(&self) -> anyhow::Result<StreamFigures> {
        read_stream(Framing::Grpc, self.backends.grpc, WARM_UP_MESSAGES).await?;
        let direct = timed(read_stream(Framing::Grpc, self.backends.grpc, MESSAGES)).await?;
        let direct_rate = direct.rate;
        println!("  {}: {direct_rate:.0} messages/s", Framing::Grpc.name());
        let mut rows = vec![StreamRow {
            framing: Framing::Grpc,
            messages: direct.messages,
            messages_per_second: direct_rate,
            vs_direct: None,
            cpu_us_per_message: None,
            peak_rss_mib: None,
            load_core_busy: direct.load_core_busy,
            holds: None,
        }];
        for framing in [Framing::Ndjson, Framing::Sse, Framing::WebSocket] {
            rows.push(self.stream_through_gateway(framing, direct_rate).await?);
        }
        Ok(StreamFigures { rows, idle: self.idle_streams().await? })
    }

    async fn stream_through_gateway(&self, framing: Framing, direct_rate: f64) -> anyhow::Result<StreamRow> {
        let (gateway, addr) = self.start_gateway("stream", &GatewayOptions::default()).await?;
        read_stream(framing, addr, WARM_UP_MESSAGES).await?;
        let cpu_before = gateway.cpu_micros();
        let run = timed(read_stream(framing, addr, MESSAGES)).await?;
        let cpu = gateway.cpu_micros().saturating_sub(cpu_before);
        println!("  {}: {:.0} messages/s", framing.name(), run.rate);
        let vs_direct = run.rate / direct_rate;
        Ok(StreamRow {
            framing,
            messages: run.messages,
            messages_per_second: run.rate,
            vs_direct: Some(vs_direct),
            cpu_us_per_message: Some(cpu as f64 / run.messages as f64),
            peak_rss_mib: Some(gateway.rss_kib().1 as f64 / 1024.0),
            load_core_busy: run.load_core_busy,
            holds: Some(vs_direct >= RATE_TARGET),
        })
    }

    /// [`IDLE_STREAMS`] SSE streams, each after its first event, against a
    /// gateway measured before (after one stream and a rest) and after.
    async fn idle_streams(&self) -> anyhow::Result<IdleStreams> {
        let (gateway, addr) = self.start_gateway("idle-streams", &GatewayOptions::default()).await?;
        drop(IdleStream::open(addr).await?);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = gateway.rss_kib().0;
        let mut held = Vec::with_capacity(IDLE_STREAMS);
        while held.len() < IDLE_STREAMS {
            let mut opening = tokio::task::JoinSet::new();
            for _ in 0..OPENING_AT_ONCE.min(IDLE_STREAMS - held.len()) {
                opening.spawn(IdleStream::open(addr));
            }
            while let Some(opened) = opening.join_next().await {
                held.push(opened??);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let added_kib = gateway.rss_kib().0.saturating_sub(before) as f64;
        let still_open = held.iter().filter(|stream| stream.is_open()).count();
        let kib_per_stream = added_kib / IDLE_STREAMS as f64;
        println!("  {IDLE_STREAMS} idle SSE streams ({still_open} still open): {kib_per_stream:.1} KiB each");
        Ok(IdleStreams {
            count: IDLE_STREAMS,
            still_open,
            added_mib: added_kib / 1024.0,
            kib_per_stream,
            holds: still_open == IDLE_STREAMS && kib_per_stream <= IDLE_TARGET_KIB,
        })
    }
}

/// One stream, timed.
struct Timed {
    messages: u64,
    rate: f64,
    load_core_busy: f64,
}

/// Runs `reading` (a stream that must deliver all [`MESSAGES`]), timing it
/// and this process's CPU.
async fn timed(reading: impl Future<Output = anyhow::Result<u64>>) -> anyhow::Result<Timed> {
    let cpu_before = own_cpu_micros();
    let started = Instant::now();
    let messages = reading.await?;
    let elapsed = started.elapsed();
    let cpu = own_cpu_micros().saturating_sub(cpu_before);
    ensure!(messages == u64::from(MESSAGES), "the stream delivered {messages} of {MESSAGES} messages");
    Ok(Timed {
        messages,
        rate: messages as f64 / elapsed.as_secs_f64(),
        load_core_busy: cpu as f64 / elapsed.as_micros() as f64,
    })
}

impl StreamFigures {
    /// Its Markdown table and line.
    pub fn table(&self) -> String {
        let optional = |value: Option<f64>, precision: usize| {
            value.map_or_else(String::new, |v| format!("{v:.precision$}"))
        };
        let mut out = format!(
            "\nStreams: one server stream of {MESSAGES} small messages read to its end \
             (target: at least {RATE_TARGET}× the direct rate; load core busy: the share of its core \
             the client and the backend used, near 100% when they, not the gateway, set the rate):\n\n\
             | stream | messages/s | × direct | gateway CPU µs/msg | peak RSS MiB | load core busy | target |\n\
             |---|---:|---:|---:|---:|---:|---|\n"
        );
        for row in &self.rows {
            let holds = row.holds.map_or("", |holds| if holds { "holds" } else { "does not hold" });
            out.push_str(&format!(
                "| {} | {:.0} | {} | {} | {} | {:.0}% | {holds} |\n",
                row.framing.name(),
                row.messages_per_second,
                optional(row.vs_direct, 2),
                optional(row.cpu_us_per_message, 2),
                optional(row.peak_rss_mib, 1),
                row.load_core_busy * 100.0,
            ));
        }
        let idle = &self.idle;
        out.push_str(&format!(
            "\n{} idle SSE streams ({} still open) add {:.1} MiB to protogate, {:.1} KiB each \
             (target ≤ {IDLE_TARGET_KIB:.0} KiB: {}).\n",
            idle.count,
            idle.still_open,
            idle.added_mib,
            idle.kib_per_stream,
            if idle.holds { "holds" } else { "does not hold" },
        ));
        out
    }
}
