//! The route table as text, for `protogate routes`.

use super::RouteSummary;

/// The route table as `protogate routes` prints it: one aligned line per binding.
pub fn routes_table(routes: &[RouteSummary]) -> String {
    let header = ["METHOD", "TEMPLATE", "TARGET", "BODY", "RESPONSE_BODY", "UPSTREAM"];
    let rows: Vec<[String; 6]> = routes
        .iter()
        .map(|r| {
            [
                r.method.to_string(),
                r.template.clone(),
                r.target.clone(),
                r.body.clone(),
                r.response_body.clone(),
                r.upstream.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 6]| {
        let padded: Vec<String> =
            cells.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}
