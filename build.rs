//! Compiles the demo's .proto sources (proto/) with protox, a pure-Rust
//! protobuf compiler, so a fresh machine needs no protoc.
//!
//! Two outputs:
//! - the tonic/prost code of the demo backend (in OUT_DIR);
//! - the encoded FileDescriptorSet, in OUT_DIR (embedded by `protogate demo`)
//!   and in descriptors/demo.pb (what a user points the gateway at). The set
//!   is written from protox's own encoding, never re-encoded through
//!   prost-types, which would drop the `google.api.http` options.

use std::{env, fs, path::PathBuf};

const PROTO_FILES: &[&str] = &["demo/v1/library.proto", "demo/v1/echo.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");

    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(PROTO_FILES)?;

    let encoded = compiler.encode_file_descriptor_set();
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("demo.pb"), &encoded)?;
    write_if_changed(&PathBuf::from("descriptors/demo.pb"), &encoded)?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

/// Keeps descriptors/demo.pb in step with proto/ without touching its
/// modification time when nothing changed.
fn write_if_changed(path: &PathBuf, bytes: &[u8]) -> std::io::Result<()> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, bytes)
}
