//! The files the measured processes start from, written into the run's
//! temporary directory: the gateway's YAML (plain, behind JWT + a rate
//! limit, over TLS, with metrics and the access log, with 11 000 routes),
//! the descriptor set, the JWT secret, and nginx's config.

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

/// What a gateway process serves besides `bench.v1.Bench` and `/web/`.
#[derive(Debug, Clone, Default)]
pub struct GatewayOptions {
    /// The gRPC routes behind a JWT policy and a per-subject local rate
    /// limit far above what the bench sends.
    pub guarded: bool,
    /// Terminate TLS on the listener with this certificate.
    pub tls: Option<ServerCert>,
    /// The admin listener (with metrics, its default); none: no metrics.
    pub admin: Option<SocketAddr>,
    /// The access log's file; none: no access log.
    pub access_log: Option<PathBuf>,
    /// Also the 1 000 generated services of [`crate::scale`].
    pub scale: bool,
}

/// A server certificate and its key, PEM files.
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// The gateway: `bench.v1.Bench` transcoded, `/web/` passed through to the
/// HTTP backend, traces off, and what `options` adds.
pub fn gateway_yaml(listen: SocketAddr, backends: Backends, options: &GatewayOptions) -> String {
    let listen = match &options.tls {
        None => format!("listen: {listen}\n"),
        Some(cert) => format!(
            "listeners:\n  \
               - listen: {listen}\n    \
                 tls: {{ certificates: [{{ cert_file: \"{}\", key_file: \"{}\" }}] }}\n",
            cert.cert_file.display(),
            cert.key_file.display(),
        ),
    };
    let admin = options.admin.map_or_else(String::new, |admin| format!("admin: {{ listen: {admin} }}\n"));
    let access_log = match &options.access_log {
        None => "access_log: { enabled: false }\n".to_owned(),
        Some(path) => format!("access_log: {{ path: \"{}\" }}\n", path.display()),
    };
    let policies = if options.guarded {
        "policies:\n  \
           users:\n    jwt: { secret_file: jwt.secret, algorithms: [HS256], audiences: [bench] }\n  \
           per-user:\n    rate_limit: { key: claim:sub, rate: 1000000/s, burst: 1000000 }\n"
    } else {
        ""
    };
    let route_policies = if options.guarded { "\n    policies: [users, per-user]" } else { "" };
    let (scale_descriptor, scale_upstream, scale_routes) = if options.scale {
        (", { file: scale.pb }", crate::scale::upstream_yaml(backends.grpc), crate::scale::routes_yaml())
    } else {
        ("", String::new(), String::new())
    };
    format!(
        "{listen}{admin}{access_log}\
         descriptors: [{{ file: bench.pb }}{scale_descriptor}]\n\
         upstreams:\n  \
           bench: {{ endpoints: [\"http://{grpc}\"] }}\n  \
           web: {{ protocol: http, endpoints: [\"http://{http}\"] }}\n\
         {scale_upstream}\
         {policies}\
         routes:\n  \
           - grpc: {{ service: bench.v1.Bench, upstream: bench }}{route_policies}\n  \
           - http: {{ prefix: /web/, upstream: web, strip_prefix: true }}\n\
         {scale_routes}",
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
/// no access log (protogate's rows write none either, but the one that
/// measures it), the same prefix strip and
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
