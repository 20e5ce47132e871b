//! TLS termination on the listeners, with a test CA: HTTP/1.1 and HTTP/2 by
//! ALPN, certificates chosen by SNI (and the default one without SNI),
//! certificates renewed on disk and served without a restart, client
//! certificates (mTLS) reaching policies, `X-Forwarded-Proto: https`, and
//! hostile input (cleartext HTTP, garbage, bad files).

use std::{net::SocketAddr, time::Duration};

use http::Version;
use protogate::{compile, config::Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

use crate::support::{
    http_backends::start_echo,
    poll::eventually,
    tls::{Reply, TestCa, start_gateway},
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A gateway config with a pass-through route `/echo/` to `legacy` and
/// the given `listeners:` block; `{dir}` stands for the CA's directory.
fn config(ca: &TestCa, legacy: SocketAddr, listeners: &str, policies: &str) -> String {
    let dir = ca.path("");
    format!(
        "descriptors: [{{ file: descriptors/demo.pb }}]\n\
         upstreams:\n  legacy: {{ protocol: http, endpoints: [\"http://{legacy}\"] }}\n\
         routes:\n  - http: {{ prefix: /echo/, upstream: legacy }}\n    policies: [{names}]\n\
         {policies}\nlisteners:\n{listeners}",
        names = policies
            .lines()
            .filter_map(|line| line.strip_prefix("  ")?.strip_suffix(':'))
            .filter(|name| !name.starts_with(' '))
            .collect::<Vec<_>>()
            .join(", "),
    )
    .replace("{dir}", &dir.display().to_string())
}

fn sni_listeners() -> &'static str {
    "  - listen: 127.0.0.1:0\n    tls:\n      poll_interval: 100ms\n      certificates:\n\
     \x20       - { cert_file: '{dir}/api.pem', key_file: '{dir}/api.key' }\n\
     \x20       - { cert_file: '{dir}/wild.pem', key_file: '{dir}/wild.key' }\n\
     \x20       - { cert_file: '{dir}/default.pem', key_file: '{dir}/default.key', default: true }\n"
}

#[tokio::test]
async fn http1_and_http2_by_alpn_with_x_forwarded_proto_https() {
    let ca = TestCa::new();
    ca.issue("api", "api", &["api.test"]);
    ca.issue("wild", "wild", &["*.wild.test"]);
    ca.issue("default", "default", &["127.0.0.1"]);
    let legacy = start_echo().await;
    let gateway = start_gateway(&config(&ca, legacy, sni_listeners(), ""), ROOT.as_ref()).await;
    let addr = gateway[0].addr();
    for (alpn, version, backend_sees) in
        [("h2", Version::HTTP_2, "2 protogate"), ("http/1.1", Version::HTTP_11, "1.1 protogate")]
    {
        let reply = ca.client(&[alpn], None).get(addr, "api.test", "/echo/x").await.unwrap();
        assert_eq!((reply.status, reply.version), (200, version), "{alpn}: {reply:?}");
        let headers = &reply.json["headers"];
        assert_eq!(headers["x-forwarded-proto"], serde_json::json!(["https"]), "{alpn}: {headers}");
        assert_eq!(headers["via"], serde_json::json!([backend_sees]), "{alpn}: {headers}");
    }
    // No ALPN at all: HTTP/1.1.
    let reply = ca.client(&[], None).get(addr, "api.test", "/echo/x").await.unwrap();
    assert_eq!((reply.status, reply.version), (200, Version::HTTP_11));
    // TLS 1.2 as well as 1.3.
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let client = ca.client_of_versions(&[version], &["h2"], None);
        let stream = client.connect(addr, "api.test").await.unwrap();
        assert_eq!(stream.get_ref().1.protocol_version(), Some(version.version));
        let reply = client.get(addr, "api.test", "/echo/x").await.unwrap();
        assert_eq!((reply.status, reply.version), (200, Version::HTTP_2));
    }
}

#[tokio::test]
async fn sni_picks_the_certificate_and_no_sni_gets_the_default() {
    let ca = TestCa::new();
    let api = ca.issue("api", "api", &["api.test"]);
    let wild = ca.issue("wild", "wild", &["*.wild.test"]);
    let default = ca.issue("default", "default", &["127.0.0.1"]);
    let legacy = start_echo().await;
    let gateway = start_gateway(&config(&ca, legacy, sni_listeners(), ""), ROOT.as_ref()).await;
    let client = ca.client(&["h2"], None);
    let peer = async |name: &str| client.get(gateway[0].addr(), name, "/echo/").await.unwrap().peer;
    assert_eq!(peer("api.test").await, api);
    assert_eq!(peer("www.wild.test").await, wild);
    assert_eq!(peer("API.wild.test").await, wild);
    // An IP address sends no SNI: the default certificate, which names it.
    assert_eq!(peer("127.0.0.1").await, default);
    // A name no certificate has gets the default one too, which the client refuses.
    let error = client.get(gateway[0].addr(), "other.test", "/echo/").await.unwrap_err();
    assert!(error.contains("certificate"), "{error}");
}

#[tokio::test]
async fn a_renewed_certificate_is_served_after_its_files_change() {
    let ca = TestCa::new();
    let first = ca.issue("api", "api", &["api.test"]);
    let legacy = start_echo().await;
    // Polled hourly: the file-system events are what reload it.
    let listeners = "  - listen: 127.0.0.1:0\n    tls:\n      poll_interval: 1h\n      certificates:\n\
                     \x20       - { cert_file: '{dir}/api.pem', key_file: '{dir}/api.key' }\n";
    let gateway = start_gateway(&config(&ca, legacy, listeners, ""), ROOT.as_ref()).await;
    let (addr, stats) = (gateway[0].addr(), gateway[0].tls_stats().unwrap().clone());
    let client = ca.client(&["http/1.1"], None);
    // A connection opened before the renewal, kept open across it.
    let stream = client.connect(addr, "api.test").await.unwrap();
    let (mut open, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(client.get(addr, "api.test", "/echo/").await.unwrap().peer, first);

    let renewed = ca.issue("api", "api", &["api.test"]);
    assert_ne!(renewed, first);
    // A new client each time: a resumed session shows no certificate.
    let served =
        async || ca.client(&["http/1.1"], None).get(addr, "api.test", "/echo/").await.map(|r: Reply| r.peer);
    eventually("the renewed certificate", async || served().await.is_ok_and(|peer| peer == renewed)).await;
    let request = http::Request::get("/echo/old")
        .header("host", "api.test")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert_eq!(open.send_request(request).await.unwrap().status(), 200, "the open connection still serves");

    // A broken certificate is refused; the renewed one keeps serving.
    let reloads = stats.reloads();
    std::fs::write(
        ca.path("api.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    eventually("the failed reload", async || stats.failed_reloads() >= 1).await;
    assert_eq!(stats.reloads(), reloads);
    assert_eq!(served().await.unwrap(), renewed);
}

#[tokio::test]
async fn a_change_no_file_event_reports_is_caught_by_the_periodic_check() {
    let ca = TestCa::new();
    let first = ca.issue("api", "api", &["api.test"]);
    // The config names symlinks in a directory of their own: writing the
    // files they point to makes no event there, so only polling sees it.
    let links = tempfile::tempdir().unwrap();
    for file in ["api.pem", "api.key"] {
        std::os::unix::fs::symlink(ca.path(file), links.path().join(file)).unwrap();
    }
    let legacy = start_echo().await;
    let listeners = format!(
        "  - listen: 127.0.0.1:0\n    tls:\n      poll_interval: 100ms\n      certificates:\n\
         \x20       - {{ cert_file: '{links}/api.pem', key_file: '{links}/api.key' }}\n",
        links = links.path().display()
    );
    let gateway = start_gateway(&config(&ca, legacy, &listeners, ""), ROOT.as_ref()).await;
    let addr = gateway[0].addr();
    let served =
        async || ca.client(&["h2"], None).get(addr, "api.test", "/echo/").await.map(|r: Reply| r.peer);
    assert_eq!(served().await.unwrap(), first);
    let renewed = ca.issue("api", "api", &["api.test"]);
    eventually("the renewed certificate", async || served().await.is_ok_and(|peer| peer == renewed)).await;
    assert_eq!(gateway[0].tls_stats().unwrap().reloads(), 1);
}

#[tokio::test]
async fn client_certificates_name_the_consumer_and_key_the_rate_limit() {
    let ca = TestCa::new();
    ca.issue("api", "api", &["api.test"]);
    ca.issue("acme", "acme", &["acme.clients.test"]);
    ca.issue("globex", "globex", &["spiffe-less.clients.test"]);
    let stranger = TestCa::new();
    stranger.issue("acme", "acme", &["acme.clients.test"]);
    let legacy = start_echo().await;
    let certificate = "      certificates: [{ cert_file: '{dir}/api.pem', key_file: '{dir}/api.key' }]\n";
    let listeners = format!(
        "  - listen: 127.0.0.1:0\n    tls:\n{certificate}      client_auth: {{ mode: required, ca_file: '{{dir}}/ca.pem' }}\n\
         \x20 - listen: 127.0.0.1:0\n    tls:\n{certificate}      client_auth: {{ mode: optional, ca_file: '{{dir}}/ca.pem' }}\n"
    );
    let policies = "policies:\n  \
        clients:\n    mtls:\n      consumer_header: x-consumer\n      consumers:\n        \
        - { consumer: acme-corp, common_name: acme }\n        \
        - { consumer: globex-inc, san: spiffe-less.clients.test }\n  \
        per-client:\n    rate_limit: { key: client_cert, rate: 1/h }\n";
    let gateway = start_gateway(&config(&ca, legacy, &listeners, policies), ROOT.as_ref()).await;
    let (required, optional) = (gateway[0].addr(), gateway[1].addr());

    let anonymous = ca.client(&["h2"], None);
    assert!(anonymous.get(required, "api.test", "/echo/").await.is_err(), "no certificate, no request");
    let untrusted = stranger.client(&["h2"], Some("acme"));
    assert!(untrusted.get(required, "api.test", "/echo/").await.is_err(), "a certificate of another CA");
    let reply = anonymous.get(optional, "api.test", "/echo/").await.unwrap();
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.headers["www-authenticate"], "ClientCertificate");

    let acme = ca.client(&["h2"], Some("acme"));
    let reply = acme.get(required, "api.test", "/echo/").await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json["headers"]["x-consumer"], serde_json::json!(["acme-corp"]));
    // The limit counts per certificate: acme's second request is refused, globex's first is not.
    assert_eq!(acme.get(optional, "api.test", "/echo/").await.unwrap().status, 429);
    let globex = ca.client(&["http/1.1"], Some("globex"));
    let reply = globex.get(required, "api.test", "/echo/").await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json["headers"]["x-consumer"], serde_json::json!(["globex-inc"]));
}

#[tokio::test]
async fn cleartext_and_garbage_on_a_tls_port_are_refused_without_harm() {
    let ca = TestCa::new();
    ca.issue("api", "api", &["api.test"]);
    let legacy = start_echo().await;
    let listeners = "  - listen: 127.0.0.1:0\n    tls:\n      certificates: [{ cert_file: '{dir}/api.pem', key_file: '{dir}/api.key' }]\n\
                     limits: { header_read_timeout: 1s }\n";
    let gateway = start_gateway(&config(&ca, legacy, listeners, ""), ROOT.as_ref()).await;
    let addr = gateway[0].addr();

    // A client that never finishes its handshake is closed after header_read_timeout.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut [0u8; 16])).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");

    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /echo/ HTTP/1.1\r\nhost: api.test\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    assert!(answer.ends_with("This port speaks TLS: use an https:// URL.\n"), "{answer}");

    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage.write_all(&[0u8; 64]).await.unwrap();
    let mut rest = Vec::new();
    let _ = garbage.read_to_end(&mut rest).await;

    let reply = ca.client(&["h2"], None).get(addr, "api.test", "/echo/").await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(gateway[0].tls_stats().unwrap().handshake_failures(), 3);
}

/// The problems of a config with the demo descriptors and `yaml`.
async fn problems_of(yaml: &str) -> String {
    let config =
        Config::from_yaml(&format!("descriptors: [{{ file: descriptors/demo.pb }}]\n{yaml}"), "t").unwrap();
    compile::compile(&config, ROOT.as_ref(), &[]).await.unwrap_err().to_string()
}

#[tokio::test]
async fn certificate_problems_name_the_key_and_the_file() {
    let ca = TestCa::new();
    ca.issue("one", "one", &["one.test"]);
    ca.issue("two", "two", &["two.test"]);
    std::fs::write(ca.path("bad.pem"), "not PEM at all").unwrap();
    let yaml = "listeners:\n  - listen: 127.0.0.1:0\n    tls:\n      certificates:\n\
        \x20       - { cert_file: '{dir}/one.pem', key_file: '{dir}/two.key' }\n\
        \x20       - { cert_file: '{dir}/missing.pem', key_file: '{dir}/one.key' }\n\
        \x20       - { cert_file: '{dir}/bad.pem', key_file: '{dir}/one.key', server_names: ['a.*.test'] }\n\
        \x20     client_auth: { mode: required, ca_file: '{dir}/bad.pem' }\n\
        \x20 - { listen: 127.0.0.1:0, tls: { certificates: [] } }\n"
        .replace("{dir}", &ca.path("").display().to_string());
    let errors = problems_of(&yaml).await;
    let dir = ca.path("").display().to_string();
    for expected in [
        format!("listeners[0].tls.certificates[0].key_file: {dir}/two.key does not go with {dir}/one.pem"),
        format!("listeners[0].tls.certificates[1].cert_file: cannot read {dir}/missing.pem"),
        format!("listeners[0].tls.certificates[2].cert_file: {dir}/bad.pem: holds no certificate"),
        "listeners[0].tls.certificates[2].server_names[0]: \"a.*.test\" is not a host name".to_owned(),
        format!("listeners[0].tls.client_auth.ca_file: {dir}/bad.pem: holds no certificate"),
        "listeners[1].tls.certificates: a TLS listener needs at least one certificate".to_owned(),
    ] {
        assert!(errors.contains(&expected), "missing {expected:?} in:\n{errors}");
    }
    let errors = problems_of("listen: 127.0.0.1:1\nlisteners: [{ listen: 127.0.0.1:2 }]").await;
    assert!(
        errors.contains("listeners: set `listen` (one cleartext listener) or `listeners`, not both"),
        "{errors}"
    );
}

#[tokio::test]
async fn the_tls_example_validates() {
    let yaml = std::fs::read_to_string(format!("{ROOT}/examples/tls.yaml")).unwrap();
    let config = Config::from_yaml(&yaml, "examples/tls.yaml").unwrap();
    // A copy of examples/ beside descriptors/, with the certificate files it
    // names made by a test CA where it expects them.
    let ca = TestCa::new();
    std::fs::create_dir_all(ca.path("examples/certs")).unwrap();
    std::os::unix::fs::symlink(format!("{ROOT}/descriptors"), ca.path("descriptors")).unwrap();
    ca.issue("examples/certs/api", "api", &["api.example.com"]);
    ca.issue("examples/certs/wildcard", "apps", &["*.apps.example.com"]);
    std::fs::copy(ca.path("ca.pem"), ca.path("examples/certs/partners-ca.pem")).unwrap();
    let compiled = compile::compile(&config, &ca.path("examples"), &[])
        .await
        .unwrap_or_else(|errors| panic!("{errors}"));
    let tls: Vec<bool> = compiled.listeners.listeners.iter().map(|l| l.tls.is_some()).collect();
    assert_eq!(tls, [false, true]);
}

#[tokio::test]
async fn a_changed_tls_setting_is_a_listener_change_and_new_certificate_contents_are_not() {
    let ca = TestCa::new();
    ca.issue("api", "api", &["api.test"]);
    let yaml = |poll: &str| {
        format!(
            "descriptors: [{{ file: descriptors/demo.pb }}]\nlisteners:\n  - listen: 127.0.0.1:8443\n    tls:\n\
             \x20     poll_interval: {poll}\n      certificates: [{{ cert_file: '{dir}/api.pem', key_file: '{dir}/api.key' }}]\n",
            dir = ca.path("").display()
        )
    };
    let compiled = async |yaml: String| {
        let config = Config::from_yaml(&yaml, "t").unwrap();
        compile::compile(&config, ROOT.as_ref(), &[]).await.unwrap().listeners
    };
    let before = compiled(yaml("10s")).await;
    ca.issue("api", "api", &["api.test"]);
    assert_eq!(before.changes(&compiled(yaml("10s")).await), [], "a renewed certificate reloads on its own");
    let changes = before.changes(&compiled(yaml("1m")).await);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].key(), "listen");
}
