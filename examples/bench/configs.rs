//! The files the measured processes start from, written into the run's
//! temporary directory: the gateway's YAML (plain, and behind JWT + a rate
//! limit), the descriptor set, the JWT secret, and nginx's config.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

/// The HMAC secret the JWT policy verifies with (≥ 32 bytes).
const JWT_SECRET: &str = "protogate-bench-secret-of-at-least-32-bytes";
/// The audience the JWT policy asks for.
const JWT_AUDIENCE: &str = "bench";

/// The run's directory; removed when dropped.
pub struct Workdir {
    dir: tempfile::TempDir,
}

/// The addresses a gateway config points at.
#[derive(Debug, Clone, Copy)]
pub struct Backends {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
}

impl Workdir {
    /// Creates the directory with the bench descriptor set and the JWT secret.
    pub fn create() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        std::fs::write(dir.path().join("bench.pb"), protogate::proto::BENCH_DESCRIPTOR_SET)?;
        std::fs::write(dir.path().join("jwt.secret"), JWT_SECRET)?;
        Ok(Self { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}

/// The gateway: `bench.v1.Bench` transcoded, `/web/` passed through to the
/// HTTP backend; with `guarded`, the gRPC routes sit behind a JWT policy and
/// a per-subject local rate limit far above what the bench sends.
pub fn gateway_yaml(listen: SocketAddr, backends: Backends, guarded: bool) -> String {
    let policies = if guarded {
        "policies:\n  \
           users:\n    jwt: { secret_file: jwt.secret, algorithms: [HS256], audiences: [bench] }\n  \
           per-user:\n    rate_limit: { key: claim:sub, rate: 1000000/s, burst: 1000000 }\n"
    } else {
        ""
    };
    let route_policies = if guarded { "\n    policies: [users, per-user]" } else { "" };
    format!(
        "listen: {listen}\n\
         descriptors: [{{ file: bench.pb }}]\n\
         upstreams:\n  \
           bench: {{ endpoints: [\"http://{grpc}\"] }}\n  \
           web: {{ protocol: http, endpoints: [\"http://{http}\"] }}\n\
         {policies}\
         routes:\n  \
           - grpc: {{ service: bench.v1.Bench, upstream: bench }}{route_policies}\n  \
           - http: {{ prefix: /web/, upstream: web, strip_prefix: true }}\n",
        grpc = backends.grpc,
        http = backends.http,
    )
}

/// A token the guarded gateway accepts, valid for an hour.
pub fn jwt_token() -> anyhow::Result<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims =
        serde_json::json!({ "sub": "bench-user", "aud": JWT_AUDIENCE, "iat": now, "exp": now + 3600 });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )?)
}

/// nginx as the pass-through reference: one worker, upstream keep-alive,
/// no access log (protogate writes none either), the same prefix strip and
/// X-Forwarded-* headers as the gateway's `/web/` route.
pub fn nginx_conf(dir: &Path, listen: SocketAddr, http_backend: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        "worker_processes 1;\n\
         daemon off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/nginx-error.log warn;\n\
         events {{ worker_connections 16384; }}\n\
         http {{\n  \
           access_log off;\n  \
           keepalive_requests 1000000;\n  \
           client_body_temp_path {dir}/nginx-body;\n  \
           proxy_temp_path {dir}/nginx-proxy;\n  \
           fastcgi_temp_path {dir}/nginx-fastcgi;\n  \
           uwsgi_temp_path {dir}/nginx-uwsgi;\n  \
           scgi_temp_path {dir}/nginx-scgi;\n  \
           upstream web {{ server {http_backend}; keepalive 64; }}\n  \
           server {{\n    \
             listen {listen};\n    \
             location /web/ {{\n      \
               proxy_pass http://web/;\n      \
               proxy_http_version 1.1;\n      \
               proxy_set_header Connection \"\";\n      \
               proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n      \
               proxy_set_header X-Forwarded-Proto $scheme;\n    \
             }}\n  \
           }}\n\
         }}\n"
    )
}
