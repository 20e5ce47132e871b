//! Route lookup (`Router::lookup`) in tables of 10, 1 000 and 10 000
//! routes. The router is a segment trie, so a lookup should cost the same
//! whatever the size of the table: the figures of one benchmark across the
//! three sizes are the check. Each size is measured for a plain hit, a hit
//! with a custom verb, and a miss (404), all aimed at the middle of the
//! table.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::Method;
use protogate::http_rule::PathTemplate;
use protogate::router::{RouteError, Router, RouterBuilder};

/// The table sizes compared.
const SIZES: [usize; 3] = [10, 1_000, 10_000];

/// The routes of one service, `{n}` standing for its number: the usual
/// CRUD set, custom verbs and a nested collection, under several methods.
const SHAPES: [(Method, &str); 10] = [
    (Method::GET, "/v1/svc{n}/items"),
    (Method::POST, "/v1/svc{n}/items"),
    (Method::GET, "/v1/svc{n}/items/{id}"),
    (Method::PATCH, "/v1/svc{n}/items/{item.id}"),
    (Method::DELETE, "/v1/svc{n}/items/{id}"),
    (Method::POST, "/v1/svc{n}/items/{id}:archive"),
    (Method::POST, "/v1/svc{n}/items/{id}:restore"),
    (Method::GET, "/v1/svc{n}/projects/{p}/items/{id}"),
    (Method::GET, "/v1/svc{n}/{name=projects/*/locations/*}"),
    (Method::GET, "/v1/svc{n}/files/{path=**}"),
];

/// A router of `size` distinct routes (whole services of [`SHAPES`]); each
/// route's value is its template text.
fn router(size: usize) -> Router<String> {
    let mut builder = RouterBuilder::new();
    for index in 0..size {
        let (method, shape) = &SHAPES[index % SHAPES.len()];
        let text = shape.replace("{n}", &(index / SHAPES.len()).to_string());
        let template = PathTemplate::parse(&text).expect("generated templates are valid");
        if builder.insert(method.clone(), &template, text.clone()).is_err() {
            panic!("generated templates are distinct, yet {method} {text} conflicts");
        }
    }
    builder.build()
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_lookup");
    for size in SIZES {
        let router = router(size);
        let middle = size / SHAPES.len() / 2;
        let hit = format!("/v1/svc{middle}/projects/p-42/items/item-0042");
        let verb = format!("/v1/svc{middle}/items/item-0042:archive");
        let miss = format!("/v1/svc{middle}/unknown/item-0042");

        let found = router.lookup(&Method::GET, &hit).expect("the hit path matches a route");
        assert_eq!(*found.value, format!("/v1/svc{middle}/projects/{{p}}/items/{{id}}"));
        let found = router.lookup(&Method::POST, &verb).expect("the verb path matches a route");
        assert_eq!(*found.value, format!("/v1/svc{middle}/items/{{id}}:archive"));
        assert_eq!(router.lookup(&Method::GET, &miss).err(), Some(RouteError::NotFound));

        group.bench_with_input(BenchmarkId::new("hit", size), &hit, |b, path| {
            b.iter(|| router.lookup(&Method::GET, black_box(path)))
        });
        group.bench_with_input(BenchmarkId::new("hit_verb", size), &verb, |b, path| {
            b.iter(|| router.lookup(&Method::POST, black_box(path)))
        });
        group.bench_with_input(BenchmarkId::new("miss", size), &miss, |b, path| {
            b.iter(|| router.lookup(&Method::GET, black_box(path)))
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
