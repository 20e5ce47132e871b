//! The admin page for people: `GET /` (HTML), `GET /ui/page.css` and
//! `GET /ui/page.js`, embedded in the binary (nothing is fetched from
//! elsewhere). The page itself polls the admin JSON endpoints; this serves
//! only the static files, each with its content type and a Content
//! Security Policy that allows scripts and styles from this origin only
//! and requests to any http(s) origin (the "try it" form calls the main
//! listener).
//!
//! The files hold no data, so they are served without the admin token;
//! the page sends the token with every JSON request it makes.

use axum::{
    Router,
    http::{HeaderName, HeaderValue, header},
    response::IntoResponse,
    routing::get,
};

const INDEX: &str = include_str!("page/index.html");
const STYLE: &str = include_str!("page/page.css");
const SCRIPT: &str = include_str!("page/page.js");

/// What the page may load and call.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self' http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The files, by path: content type and body.
const FILES: [(&str, &str, &str); 3] = [
    ("/", "text/html; charset=utf-8", INDEX),
    ("/ui/page.css", "text/css; charset=utf-8", STYLE),
    ("/ui/page.js", "text/javascript; charset=utf-8", SCRIPT),
];

/// The page's routes.
pub(super) fn routes() -> Router {
    FILES.iter().fold(Router::new(), |router, &(path, content_type, body)| {
        router.route(path, get(move || async move { file(content_type, body) }))
    })
}

/// Whether `path` is one of the page's files (served without the token).
pub(super) fn is_page_file(path: &str) -> bool {
    FILES.iter().any(|(file, _, _)| *file == path)
}

fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 5] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body)
}
