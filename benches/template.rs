//! Path-template parsing (`PathTemplate::parse`) on a few realistic
//! `google.api.http` templates. Parsing happens once per binding when a
//! configuration is compiled, so this bounds the cost of a reload with many
//! routes rather than the cost of a request.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use protogate::http_rule::PathTemplate;

/// (benchmark name, template): a plain variable, a multi-segment variable
/// with a custom verb, a `**` capture, and several variables in a row.
const TEMPLATES: &[(&str, &str)] = &[
    ("simple", "/v1/items/{id}"),
    ("nested_verb", "/v1/{name=projects/*/locations/*/items/*}:publish"),
    ("double_wildcard", "/v1/files/{path=**}"),
    ("three_variables", "/v1/projects/{project}/locations/{location}/items/{item}"),
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("template_parse");
    for &(name, text) in TEMPLATES {
        PathTemplate::parse(text).expect("benchmark templates are valid");
        group.bench_with_input(BenchmarkId::from_parameter(name), text, |b, text| {
            b.iter(|| PathTemplate::parse(black_box(text)))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
