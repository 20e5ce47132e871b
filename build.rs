//! Compiles the .proto sources under proto/ with protox, a pure-Rust
//! protobuf compiler, so a fresh machine needs no protoc.
//!
//! Three sets, each compiled on its own: the demo (proto/demo), the
//! benchmark's service (proto/bench, used by examples/bench) and the
//! built-in google/rpc files (status, code, error details), which the
//! gateway adds to every descriptor pool. With the `otlp` feature, the
//! OpenTelemetry trace service's code too (proto/opentelemetry).
//!
//! Outputs:
//! - the tonic/prost code of both (in OUT_DIR);
//! - the encoded FileDescriptorSets: demo.pb in OUT_DIR (embedded by
//!   `protogate demo`) and in descriptors/ (what a user points the gateway
//!   at), bench.pb and google_rpc.pb in OUT_DIR. Each is written from protox's own encoding,
//!   never re-encoded through prost-types, which would drop the
//!   `google.api.http` options.

use std::{env, fs, path::PathBuf};

const DEMO_FILES: &[&str] = &["demo/v1/library.proto", "demo/v1/echo.proto", "demo/v1/stream.proto"];
const BENCH_FILES: &[&str] = &["bench/v1/bench.proto"];
const GOOGLE_RPC_FILES: &[&str] =
    &["google/rpc/status.proto", "google/rpc/code.proto", "google/rpc/error_details.proto"];
/// The OpenTelemetry collector's trace service (vendored from
/// open-telemetry/opentelemetry-proto at ac2c4b5, after v1.11.0), for the
/// `otlp` feature.
const OTLP_FILES: &[&str] = &["opentelemetry/proto/collector/trace/v1/trace_service.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    let demo = compiler(DEMO_FILES)?.encode_file_descriptor_set();
    fs::write(out_dir.join("demo.pb"), &demo)?;
    write_if_changed(&PathBuf::from("descriptors/demo.pb"), &demo)?;
    fs::write(out_dir.join("bench.pb"), compiler(BENCH_FILES)?.encode_file_descriptor_set())?;
    fs::write(out_dir.join("google_rpc.pb"), compiler(GOOGLE_RPC_FILES)?.encode_file_descriptor_set())?;

    // The code of every set in one pass, so shared packages (google.api)
    // are generated once, whole.
    let mut files = [DEMO_FILES, BENCH_FILES, GOOGLE_RPC_FILES].concat();
    if env::var_os("CARGO_FEATURE_OTLP").is_some() {
        files.extend(OTLP_FILES);
    }
    let all = compiler(&files)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(all.file_descriptor_set())?;
    Ok(())
}

/// A protox compiler that has compiled `files` and their imports.
fn compiler(files: &[&str]) -> Result<protox::Compiler, protox::Error> {
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(files)?;
    Ok(compiler)
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
