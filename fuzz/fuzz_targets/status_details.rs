//! Decoding `grpc-status-details-bin` (a `google.rpc.Status` whose details
//! are `Any`s) against the demo pool, on any bytes: never a panic, and
//! every detail comes out as a JSON object with an `@type`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protogate::transcode::failure::{StatusArrival, UpstreamFailure};

fuzz_target!(|details: &[u8]| {
    let status = tonic::Status::with_details(tonic::Code::InvalidArgument, "fuzz", details.to_vec().into());
    let failure =
        UpstreamFailure::from_status(status, protogate_fuzz::demo_pool(), StatusArrival::InTrailers);
    for detail in &failure.details {
        assert!(detail.get("@type").is_some_and(serde_json::Value::is_string), "{detail}");
    }
});
