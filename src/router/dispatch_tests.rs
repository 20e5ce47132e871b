//! The dispatcher's order and its reading of the host, on small tables.

use http::{Method, Request};

use super::{AnswersPreflights, Decision, Tables, TakesWebSockets, decide, request_host};
use crate::{
    http_rule::PathTemplate,
    router::{PrefixKey, PrefixTable, Router, RouterBuilder, ServiceTable},
};

/// An entry named by its text, answering preflights when it has `cors`.
struct Entry {
    name: &'static str,
    cors: Option<&'static str>,
}

impl AnswersPreflights for Entry {
    type Answerer = &'static str;

    fn preflight_answerer(&self) -> Option<&&'static str> {
        self.cors.as_ref()
    }
}

impl TakesWebSockets for Entry {
    fn takes_websockets(&self) -> bool {
        self.name == "chat"
    }
}

struct Fixture {
    templates: Router<Entry>,
    prefixes: PrefixTable<Entry>,
    services: ServiceTable<Entry>,
}

impl Fixture {
    fn new() -> Self {
        let mut templates = RouterBuilder::new();
        let template = PathTemplate::parse("/v1/things/{id}").unwrap();
        templates.insert(Method::GET, &template, Entry { name: "get-thing", cors: Some("things") }).ok();
        let chat = PathTemplate::parse("/v1/chat/{room}").unwrap();
        templates.insert(Method::POST, &chat, Entry { name: "chat", cors: None }).ok();
        let mut prefixes = PrefixTable::default();
        let key = |prefix: &str, host: Option<&str>| PrefixKey {
            prefix: prefix.into(),
            host: host.map(Into::into),
            methods: vec![],
        };
        prefixes.insert(key("/", None), Entry { name: "any", cors: None }).unwrap();
        prefixes
            .insert(key("/", Some("static.example")), Entry { name: "static", cors: Some("static") })
            .unwrap();
        let mut services = ServiceTable::default();
        services.insert(
            "demo.v1.Library",
            Some(vec!["GetBook".into()]),
            Entry { name: "library", cors: None },
        );
        Self { templates: templates.build(), prefixes, services }
    }

    fn decide(&self, request: Request<()>) -> String {
        let tables =
            Tables { templates: &self.templates, prefixes: &self.prefixes, services: &self.services };
        match decide(&request.into_parts().0, tables) {
            Decision::NativeGrpc(route) => format!("grpc {} {}", route.value.name, route.id),
            Decision::GrpcWeb(route) => format!("grpc-web {} {}", route.value.name, route.id),
            Decision::Preflight { id, answerer } => format!("preflight {answerer} {id}"),
            Decision::Transcoded { route, captures } => format!("transcoded {} {captures:?}", route.id),
            Decision::WebSocket { route, captures } => format!("websocket {} {captures:?}", route.id),
            Decision::Proxied { route, path } => format!("proxied {} {path:?}", route.value.name),
            Decision::MethodNotServed => "not served".into(),
            Decision::NotFound => "404".into(),
            Decision::MethodNotAllowed { allow } => format!("405 {allow:?}"),
        }
    }
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

#[test]
fn dispatch_follows_the_house_order() {
    let f = Fixture::new();
    let grpc = [("content-type", "application/grpc")];
    assert_eq!(f.decide(request("POST", "/demo.v1.Library/GetBook", &grpc)), "grpc library demo.v1.Library");
    assert_eq!(f.decide(request("POST", "/demo.v1.Library/DeleteBook", &grpc)), "not served");
    // gRPC-Web goes to the service's route too (translated on its way).
    for content_type in ["application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text"] {
        let web = [("content-type", content_type)];
        let found = f.decide(request("POST", "/demo.v1.Library/GetBook", &web));
        assert_eq!(found, "grpc-web library demo.v1.Library", "{content_type}");
        assert_eq!(f.decide(request("POST", "/demo.v1.Library/DeleteBook", &web)), "not served");
    }
    // Neither gRPC nor gRPC-Web: routed by path.
    let other = [("content-type", "application/grpc-webby")];
    assert_eq!(f.decide(request("POST", "/demo.v1.Library/GetBook", &other)), "proxied any None");
    assert_eq!(f.decide(request("GET", "/v1/things/7", &[])), "transcoded GET /v1/things/{id} [\"7\"]");
    assert_eq!(f.decide(request("PUT", "/v1/things/7", &[])), "405 [GET, HEAD]");
    assert_eq!(f.decide(request("GET", "//a/./b", &[])), "proxied any Some(\"/a/b\")");
    assert_eq!(f.decide(request("GET", "/a/b", &[])), "proxied any None");
}

#[test]
fn grpc_and_grpc_web_are_post_only_but_a_preflight_is_one() {
    let f = Fixture::new();
    for content_type in ["application/grpc", "application/grpc-web", "application/grpc-web-text+proto"] {
        for method in ["GET", "HEAD", "PUT", "OPTIONS"] {
            let found =
                f.decide(request(method, "/demo.v1.Library/GetBook", &[("content-type", content_type)]));
            assert_eq!(found, "405 [POST]", "{method} {content_type}");
        }
        // Whatever content type it carries, a preflight is not the call.
        let preflight = [
            ("origin", "https://a.example"),
            ("access-control-request-method", "POST"),
            ("content-type", content_type),
        ];
        let found = f.decide(request("OPTIONS", "/demo.v1.Library/GetBook", &preflight));
        assert_eq!(found, "proxied any None", "{content_type}");
    }
}

#[test]
fn a_websocket_upgrade_takes_a_streaming_binding_whatever_its_verb() {
    let f = Fixture::new();
    let upgrade = [("upgrade", "websocket"), ("connection", "keep-alive, Upgrade")];
    assert_eq!(
        f.decide(request("GET", "/v1/chat/lobby", &upgrade)),
        "websocket POST /v1/chat/{room} [\"lobby\"]"
    );
    // A binding that takes no WebSocket, and a plain GET, are routed as usual.
    assert_eq!(f.decide(request("GET", "/v1/things/7", &upgrade)), "transcoded GET /v1/things/{id} [\"7\"]");
    assert_eq!(f.decide(request("GET", "/v1/chat/lobby", &[])), "405 [POST]");
    assert_eq!(f.decide(request("GET", "/ws", &upgrade)), "proxied any None");
}

#[test]
fn preflights_go_to_the_announced_route_when_it_answers_them() {
    let f = Fixture::new();
    let preflight = |method| [("origin", "https://a.example"), ("access-control-request-method", method)];
    let found = f.decide(request("OPTIONS", "/v1/things/7", &preflight("GET")));
    assert_eq!(found, "preflight things GET /v1/things/{id}");
    // The announced route has no CORS policy: routed as it is.
    assert_eq!(f.decide(request("OPTIONS", "/x", &preflight("GET"))), "proxied any None");
    // By the host, from `Host` or (HTTP/2) the authority.
    let mut with_host = preflight("GET").to_vec();
    with_host.push(("host", "static.example:8080"));
    assert_eq!(f.decide(request("OPTIONS", "/x", &with_host)), "preflight static static.example/");
    let by_authority = f.decide(request("OPTIONS", "http://static.example/x", &preflight("GET")));
    assert_eq!(by_authority, "preflight static static.example/");
}

#[test]
fn the_host_is_the_host_header_else_the_authority() {
    let both = request("GET", "http://authority.example/", &[("host", "header.example")]);
    assert_eq!(request_host(both.headers(), both.uri()).map(|h| h.as_str()), Some("header.example"));
    let authority = request("GET", "http://authority.example:81/", &[]);
    let host = request_host(authority.headers(), authority.uri()).unwrap();
    assert_eq!(host.as_str(), "authority.example:81");
    assert_eq!(host.to_header_value().unwrap(), "authority.example:81");
    let neither = request("GET", "/", &[]);
    assert!(request_host(neither.headers(), neither.uri()).is_none());
}
