//! The JSON body binder on any bytes, into a message with a field of every
//! kind: the whole body (ignoring or refusing unknown fields), a message
//! field with the update mask filled from its keys, and a repeated field.
//! Never a panic; a refusal is the client's (400), never an internal error.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protogate::http_rule::BodySelector;
use protogate::transcode::bind::{BindFailure, BindOptions, RequestBinder};

fn binders() -> &'static [RequestBinder; 4] {
    static BINDERS: OnceLock<[RequestBinder; 4]> = OnceLock::new();
    BINDERS.get_or_init(|| {
        let input = protogate_fuzz::every_kind();
        let compile = |body: BodySelector, mask: bool, options| {
            RequestBinder::compile(&input, &[], &body, mask, options).expect("the binding compiles")
        };
        let strict = BindOptions { reject_unknown_fields: true, ..BindOptions::default() };
        [
            compile(BodySelector::Whole, false, BindOptions::default()),
            compile(BodySelector::Whole, false, strict),
            compile(BodySelector::Field("f_recursive".into()), true, BindOptions::default()),
            compile(BodySelector::Field("r_int64".into()), false, BindOptions::default()),
        ]
    })
}

fuzz_target!(|input: (u8, &[u8])| {
    let (which, body) = input;
    let binders = binders();
    let binder = &binders[usize::from(which) % binders.len()];
    let body = Bytes::copy_from_slice(body);
    if let Err(BindFailure::Internal(error)) =
        binder.bind(&[], Some("f_string=q"), &body, Some("application/json"))
    {
        panic!("body {body:?} made an internal error: {error}");
    }
});
