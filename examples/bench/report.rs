//! The results: one row per scenario, the cost targets, the open-loop
//! comparison, the memory, reload and streaming figures, printed as
//! Markdown and written as JSON.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::load::Tally;
use crate::reload::ReloadFigures;
use crate::streams::StreamFigures;
use crate::targets::{self, Comparison};

/// One closed-loop scenario.
#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// The slowest request.
    pub max_us: f64,
    /// CPU of the measured process per request (none for the direct baseline).
    pub cpu_us_per_request: Option<f64>,
    /// The lowest and highest `cpu_us_per_request` over the repeats.
    pub cpu_us_range: Option<(f64, f64)>,
    /// `cpu_us_per_request` over the floor forwarder's.
    pub cpu_vs_floor: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub non_2xx: u64,
    pub errors: u64,
    /// Why the row is empty, or what went wrong.
    pub note: Option<String>,
}

/// What a measured process did over a run.
#[derive(Debug, Clone, Copy)]
pub struct ProcessUse {
    pub cpu_micros: u64,
    pub peak_rss_kib: u64,
}

impl Row {
    pub fn measured(scenario: &str, tally: &Tally, seconds: f64, process: Option<ProcessUse>) -> Self {
        let requests = tally.latency.len();
        Self {
            scenario: scenario.to_owned(),
            requests,
            requests_per_second: requests as f64 / seconds,
            p50_us: quantile_us(&tally.latency, 0.50),
            p99_us: quantile_us(&tally.latency, 0.99),
            p999_us: quantile_us(&tally.latency, 0.999),
            max_us: tally.latency.max() as f64 / 1_000.0,
            cpu_us_per_request: process
                .filter(|_| requests > 0)
                .map(|used| used.cpu_micros as f64 / requests as f64),
            cpu_us_range: None,
            cpu_vs_floor: None,
            peak_rss_mib: process.map(|used| used.peak_rss_kib as f64 / 1024.0),
            non_2xx: tally.non_2xx,
            errors: tally.errors,
            note: tally.first_error.clone(),
        }
    }

    pub fn skipped(scenario: &str, why: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            requests: 0,
            requests_per_second: 0.0,
            p50_us: 0.0,
            p99_us: 0.0,
            p999_us: 0.0,
            max_us: 0.0,
            cpu_us_per_request: None,
            cpu_us_range: None,
            cpu_vs_floor: None,
            peak_rss_mib: None,
            non_2xx: 0,
            errors: 0,
            note: Some(why.to_owned()),
        }
    }
}

/// One row per scenario from several repeats of all of them: the repeat
/// with the median CPU per request (the median throughput where no CPU is
/// measured), with the CPU range over the repeats, and the non-2xx and
/// errors of every repeat.
pub fn median_rows(repeats: Vec<Vec<Row>>) -> Vec<Row> {
    let scenarios = repeats.first().map_or(0, Vec::len);
    let mut by_scenario: Vec<Vec<Row>> = (0..scenarios).map(|_| Vec::new()).collect();
    for repeat in repeats {
        for (rows, row) in by_scenario.iter_mut().zip(repeat) {
            rows.push(row);
        }
    }
    by_scenario.into_iter().filter_map(median_row).collect()
}

fn median_row(mut rows: Vec<Row>) -> Option<Row> {
    let key = |row: &Row| row.cpu_us_per_request.unwrap_or(row.requests_per_second);
    rows.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let cpus: Vec<f64> = rows.iter().filter_map(|row| row.cpu_us_per_request).collect();
    let non_2xx = rows.iter().map(|row| row.non_2xx).sum();
    let errors = rows.iter().map(|row| row.errors).sum();
    let note = rows.iter().find_map(|row| row.note.clone());
    let middle = rows.len() / 2;
    let mut median = rows.into_iter().nth(middle)?;
    if cpus.len() > 1 {
        median.cpu_us_range = Some((cpus[0], cpus[cpus.len() - 1]));
    }
    median.non_2xx = non_2xx;
    median.errors = errors;
    median.note = note;
    Some(median)
}

/// The open-loop repeat with the median added p99 (with the non-2xx and
/// errors of all of them).
pub fn median_open_loop(mut repeats: Vec<OpenLoop>) -> Option<OpenLoop> {
    let failures = |row: fn(&OpenLoop) -> &Row, repeats: &[OpenLoop]| {
        repeats
            .iter()
            .map(row)
            .fold((0, 0), |(non_2xx, errors), row| (non_2xx + row.non_2xx, errors + row.errors))
    };
    let direct = failures(|open| &open.direct, &repeats);
    let gateway = failures(|open| &open.gateway, &repeats);
    repeats.sort_by(|a, b| a.added_p99_us.total_cmp(&b.added_p99_us));
    let middle = repeats.len() / 2;
    let mut median = repeats.into_iter().nth(middle)?;
    (median.direct.non_2xx, median.direct.errors) = direct;
    (median.gateway.non_2xx, median.gateway.errors) = gateway;
    Some(median)
}

/// The same rate, direct and through the gateway.
#[derive(Debug, Serialize)]
pub struct OpenLoop {
    pub rate: u32,
    pub direct: Row,
    pub gateway: Row,
    /// Gateway p99 minus direct p99.
    pub added_p99_us: f64,
}

/// Memory and scale figures.
#[derive(Debug, Default, Serialize)]
pub struct Memory {
    /// `protogate demo` (gateway and demo backend in one process), idle.
    pub demo_idle_rss_mib: f64,
    pub idle_connections: IdleConnections,
    pub scale_services: usize,
    pub scale_routes: usize,
    pub scale_load_ms: f64,
    pub scale_match_ns: f64,
}

/// What idle keep-alive connections add to each server's resident memory.
#[derive(Debug, Default, Serialize)]
pub struct IdleConnections {
    pub count: usize,
    /// protogate's connections still open when measured.
    pub still_open: usize,
    pub protogate_mib: f64,
    /// The floor forwarder: bare hyper HTTP/1.1.
    pub floor_mib: f64,
    pub nginx_mib: Option<f64>,
}

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub seconds: u64,
    /// How many times every closed-loop scenario ran.
    pub repeats: usize,
    pub connections: usize,
    pub pinned: String,
    pub rows: Vec<Row>,
    /// The cost targets over `rows`.
    pub comparisons: Vec<Comparison>,
    pub open_loop: Option<OpenLoop>,
    pub memory: Option<Memory>,
    pub reload: Option<ReloadFigures>,
    pub streams: Option<StreamFigures>,
}

impl Report {
    /// Fills `cpu_vs_floor` from the row named `floor`.
    pub fn compare_to(&mut self, floor: &str) {
        let floor_cpu =
            self.rows.iter().find(|row| row.scenario == floor).and_then(|row| row.cpu_us_per_request);
        if let Some(floor_cpu) = floor_cpu.filter(|cpu| *cpu > 0.0) {
            for row in &mut self.rows {
                row.cpu_vs_floor = row.cpu_us_per_request.map(|cpu| cpu / floor_cpu);
            }
        }
    }

    /// The Markdown table the README shows.
    pub fn table(&self) -> String {
        let repeats = match self.repeats {
            1 => String::new(),
            n => format!(", the median of {n} interleaved repeats (CPU range in brackets)"),
        };
        let mut out = format!(
            "{} s per scenario, {} connections, {}{repeats}\n",
            self.seconds, self.connections, self.pinned,
        );
        if !self.rows.is_empty() {
            out.push_str(
                "\n| scenario | req/s | p50 µs | p99 µs | p99.9 µs | CPU µs/req | CPU × floor | peak RSS MiB | non-2xx | errors |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            );
        }
        for row in &self.rows {
            out.push_str(&table_row(row));
        }
        if !self.comparisons.is_empty() {
            out.push_str(&targets::table(&self.comparisons));
        }
        if let Some(open) = &self.open_loop {
            out.push_str(&format!(
                "\nOpen loop at {} req/s, latency from when each request was due:\n\n{}",
                open.rate,
                latency_table(&[&open.direct, &open.gateway])
            ));
            out.push_str(&format!("\nThe gateway adds {:.0} µs at p99.\n", open.added_p99_us));
        }
        if let Some(memory) = &self.memory {
            let idle = &memory.idle_connections;
            let nginx = idle
                .nginx_mib
                .map_or_else(|| "nginx not installed".to_owned(), |mib| format!("nginx {mib:.1} MiB"));
            out.push_str(&format!(
                "\nMemory: `protogate demo` idle {:.1} MiB RSS. {} idle keep-alive connections ({} still open) add \
                 {:.1} MiB to protogate (floor forwarder {:.1} MiB, {nginx}).\n\
                 Scale: {} routes from {} services load in {:.0} ms; a lookup takes {:.0} ns.\n",
                memory.demo_idle_rss_mib,
                idle.count,
                idle.still_open,
                idle.protogate_mib,
                idle.floor_mib,
                memory.scale_routes,
                memory.scale_services,
                memory.scale_load_ms,
                memory.scale_match_ns,
            ));
        }
        if let Some(reload) = &self.reload {
            out.push_str(&reload.table());
        }
        if let Some(streams) = &self.streams {
            out.push_str(&streams.table());
        }
        out
    }
}

/// The latency of open-loop rows, timed from when each request was due.
pub fn latency_table(rows: &[&Row]) -> String {
    let mut out = String::from(
        "| scenario | p50 µs | p99 µs | p99.9 µs | max µs | non-2xx | errors |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} |\n",
            row.scenario, row.p50_us, row.p99_us, row.p999_us, row.max_us, row.non_2xx, row.errors
        ));
    }
    out
}

fn table_row(row: &Row) -> String {
    if row.requests == 0 {
        return format!(
            "| {} | {} | | | | | | | | |\n",
            row.scenario,
            row.note.as_deref().unwrap_or("no requests")
        );
    }
    let optional =
        |value: Option<f64>, precision: usize| value.map_or_else(String::new, |v| format!("{v:.precision$}"));
    format!(
        "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} |\n",
        row.scenario,
        row.requests_per_second,
        row.p50_us,
        row.p99_us,
        row.p999_us,
        cpu_column(row),
        optional(row.cpu_vs_floor, 2),
        optional(row.peak_rss_mib, 1),
        row.non_2xx,
        row.errors,
    )
}

fn cpu_column(row: &Row) -> String {
    match (row.cpu_us_per_request, row.cpu_us_range) {
        (Some(cpu), Some((low, high))) => format!("{cpu:.1} ({low:.0}–{high:.0})"),
        (Some(cpu), None) => format!("{cpu:.1}"),
        (None, _) => String::new(),
    }
}

fn quantile_us(latency: &Histogram<u64>, quantile: f64) -> f64 {
    latency.value_at_quantile(quantile) as f64 / 1_000.0
}
