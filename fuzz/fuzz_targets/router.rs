//! The router and the prefix table with arbitrary methods and paths over a
//! fixed set of routes that uses every kind of segment: never a panic, one
//! capture per variable of the winning template, and `Allow` never empty.
#![no_main]

use std::sync::OnceLock;

use http::Method;
use libfuzzer_sys::fuzz_target;
use protogate::http_rule::PathTemplate;
use protogate::router::{PrefixKey, PrefixTable, RouteError, Router, RouterBuilder};

const TEMPLATES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/v1/{name=shelves/*}"),
    ("GET", "/v1/{name=shelves/*/books/*}"),
    ("POST", "/v1/{parent=shelves/*}/books"),
    ("GET", "/v1/stores/{shelf}/books/{book.id}"),
    ("PATCH", "/v1/shelves/{shelf}/books/{book.id}"),
    ("GET", "/v1/files/{path=**}"),
    ("GET", "/v1/files/{path=**}/raw"),
    ("GET", "/v1/{a}/{b=**}/x/y"),
    ("POST", "/v1/echo/{id}:shout"),
    ("POST", "/v1/echo/{id}:caf%C3%A9"),
    ("GET", "/v1/echo/{id}"),
    ("GET", "/v1/*/literal/**"),
    ("GET", "/caf%c3%a9/{x}"),
    ("DELETE", "/{x=**}"),
];

fn routes() -> &'static (Router<PathTemplate>, PrefixTable<usize>) {
    static ROUTES: OnceLock<(Router<PathTemplate>, PrefixTable<usize>)> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let mut builder = RouterBuilder::new();
        for (method, text) in TEMPLATES {
            let template = PathTemplate::parse(text).expect("a valid template");
            let method = Method::from_bytes(method.as_bytes()).expect("a method");
            assert!(builder.insert(method, &template, template.clone()).is_ok(), "{text} clashes");
        }
        let mut prefixes = PrefixTable::default();
        for (i, prefix) in ["/", "/legacy", "/legacy/v2/", "/a%2Fb"].into_iter().enumerate() {
            let key =
                PrefixKey { prefix: prefix.into(), host: (i == 2).then(|| "api".into()), methods: vec![] };
            prefixes.insert(key, i).expect("a valid prefix");
        }
        (builder.build(), prefixes)
    })
}

fuzz_target!(|input: (u8, &str)| {
    let (which, path) = input;
    let methods = [Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::PUT];
    let method = &methods[usize::from(which) % methods.len()];
    let (router, prefixes) = routes();
    match router.lookup(method, path) {
        Ok(found) => assert_eq!(found.captures.len(), found.value.variables().len()),
        Err(RouteError::MethodNotAllowed { allow }) => assert!(!allow.is_empty() && !allow.contains(method)),
        Err(RouteError::NotFound) => {}
    }
    let _ = prefixes.lookup(Some("api:80"), method, path);
});
