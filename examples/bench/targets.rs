//! The targets that are ratios of two closed-loop rows' CPU per request
//! (observability on against off, TLS against cleartext). Each repeat
//! measures the two rows one right after the other, so the ratio is taken
//! per repeat and shown as the median with its range, with whether the
//! target holds.

use serde::Serialize;

use crate::costs::{OBSERVED_ROW, TLS_ROW};
use crate::report::Row;
use crate::scenarios::GET_ROW;

/// A row's CPU per request that must stay within `at_most` times another's.
#[derive(Debug)]
pub struct Target {
    pub name: &'static str,
    pub subject: &'static str,
    pub baseline: &'static str,
    pub at_most: f64,
}

/// The cost targets (issue 9, "Cost").
pub const TARGETS: [Target; 2] = [
    Target { name: "metrics + access log on", subject: OBSERVED_ROW, baseline: GET_ROW, at_most: 1.10 },
    Target { name: "TLS keep-alive", subject: TLS_ROW, baseline: GET_ROW, at_most: 1.30 },
];

/// One target as measured.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub target: String,
    pub subject: String,
    pub baseline: String,
    /// The subject's CPU per request over the baseline's: the median over the repeats.
    pub ratio: f64,
    /// The lowest and highest ratio over the repeats (more than one).
    pub range: Option<(f64, f64)>,
    pub at_most: f64,
    pub holds: bool,
}

/// Every target whose two rows were measured in each of `repeats`.
pub fn compare(repeats: &[Vec<Row>]) -> Vec<Comparison> {
    TARGETS.iter().filter_map(|target| compare_one(target, repeats)).collect()
}

fn compare_one(target: &Target, repeats: &[Vec<Row>]) -> Option<Comparison> {
    let cpu = |rows: &[Row], name: &str| {
        rows.iter().find(|row| row.scenario == name).and_then(|row| row.cpu_us_per_request)
    };
    let mut ratios: Vec<f64> = repeats
        .iter()
        .filter_map(|rows| {
            Some(cpu(rows, target.subject)? / cpu(rows, target.baseline).filter(|cpu| *cpu > 0.0)?)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = *ratios.get(ratios.len() / 2)?;
    let range = (ratios.len() > 1).then(|| (ratios[0], ratios[ratios.len() - 1]));
    Some(Comparison {
        target: target.name.to_owned(),
        subject: target.subject.to_owned(),
        baseline: target.baseline.to_owned(),
        ratio,
        range,
        at_most: target.at_most,
        holds: ratio <= target.at_most,
    })
}

/// The Markdown table of `comparisons`.
pub fn table(comparisons: &[Comparison]) -> String {
    let mut out = String::from(
        "\nCost targets: CPU per request of a row over that of the row it is set against, \
         measured moments before it in the same repeat (the median ratio of the repeats, range in brackets):\n\n\
         | target | row | against | CPU ratio | target | holds |\n|---|---|---|---:|---:|---|\n",
    );
    for comparison in comparisons {
        let range = comparison.range.map_or_else(String::new, |(low, high)| format!(" ({low:.2}–{high:.2})"));
        out.push_str(&format!(
            "| {} | {} | {} | {:.2}{range} | ≤ {:.2} | {} |\n",
            comparison.target,
            comparison.subject,
            comparison.baseline,
            comparison.ratio,
            comparison.at_most,
            if comparison.holds { "yes" } else { "no" },
        ));
    }
    out
}
