//! The query binder on any query string, into a message with a field of
//! every kind: never a panic, and a refusal is the client's (400), never an
//! internal error.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protogate::http_rule::BodySelector;
use protogate::transcode::bind::{BindFailure, BindOptions, RequestBinder};

fn binders() -> &'static [RequestBinder; 2] {
    static BINDERS: OnceLock<[RequestBinder; 2]> = OnceLock::new();
    BINDERS.get_or_init(|| {
        let input = protogate_fuzz::every_kind();
        let compile = |options| {
            RequestBinder::compile(&input, &[], &BodySelector::None, false, options)
                .expect("the binding compiles")
        };
        let strict = BindOptions {
            reject_unknown_query_parameters: true,
            query_plus_is_literal: true,
            ..BindOptions::default()
        };
        [compile(BindOptions::default()), compile(strict)]
    })
}

fuzz_target!(|input: (bool, &str)| {
    let (strict, query) = input;
    let binder = &binders()[usize::from(strict)];
    if let Err(BindFailure::Internal(error)) = binder.bind(&[], Some(query), &Bytes::new(), None) {
        panic!("query {query:?} made an internal error: {error}");
    }
});
