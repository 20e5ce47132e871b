//! What the fuzz targets share: the demo descriptor pool (its `Kitchen`
//! message has a field of every kind the binder handles) and a Tokio
//! runtime for the async entry points. Built once per process.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MessageDescriptor};

/// The demo's descriptor pool, as the gateway embeds it.
pub fn demo_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(protogate::proto::DEMO_DESCRIPTOR_SET)
            .expect("the demo descriptor set decodes")
    })
}

/// `demo.v1.Kitchen`: a field of every kind (scalars, enums, nested,
/// repeated, maps, oneofs, well-known types).
pub fn kitchen() -> MessageDescriptor {
    demo_pool().get_message_by_name("demo.v1.Kitchen").expect("demo.v1.Kitchen is in the demo pool")
}

/// A single-threaded Tokio runtime with timers, for async entry points.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a Tokio runtime")
    })
}

/// `binding.test.EveryKind` (tests/data/binding_test.proto, compiled with
/// protox): every scalar kind, enums, messages, repeated, maps, a oneof and
/// the well-known types.
pub fn every_kind() -> MessageDescriptor {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut compiler =
            protox::Compiler::new([format!("{root}/../tests/data"), format!("{root}/../proto")])
                .expect("the include paths exist");
        compiler.open_files(["binding_test.proto"]).expect("tests/data/binding_test.proto compiles");
        compiler.descriptor_pool()
    });
    pool.get_message_by_name("binding.test.EveryKind").expect("binding.test.EveryKind is defined")
}
