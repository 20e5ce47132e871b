//! The router agrees with the naive reference matcher on random route
//! sets and paths: the same winner with the same captures, the same 404,
//! the same 405 with the same `Allow`.

use http::Method;
use proptest::prelude::*;
use protogate::http_rule::{PathTemplate, Segment};
use protogate::router::{RouteError, RouterBuilder};

use super::reference::{Decision, decide};
use super::template::{draft, text_of};

/// Few literals, so that templates overlap and paths match often; `%61`
/// is `a` in canonical form.
fn small_literal() -> BoxedStrategy<String> {
    prop::sample::select(&["a", "b", "c", "%61", "v"][..]).prop_map(str::to_owned).boxed()
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(&[Method::GET, Method::POST, Method::PUT][..])
}

/// Paths over the templates' literals, with verbs, dot segments, empty
/// segments, escapes (valid, invalid, `%2F`) and non-ASCII.
fn path() -> impl Strategy<Value = String> {
    let odd = prop::sample::select(
        &[
            "A", "%41", "x:v", "a:%76", ":v", "b:w", ".", "..", "", "%2e", "%zz", "%2F", "a%2Fb", "%C3%A9",
            "é", "%FF",
        ][..],
    );
    let segment = prop_oneof![4 => prop::sample::select(&["a", "b", "c", "v", "%61", "a:v"][..]), 1 => odd];
    prop::collection::vec(segment, 0..5).prop_map(|segments| format!("/{}", segments.join("/")))
}

/// A path that `template` matches (unless `filler`'s segments say
/// otherwise): its literals, each `*` and `**` filled from `filler`.
fn instance_of(template: &PathTemplate, filler: &str) -> String {
    let mut fill = filler.split('/').skip(1).cycle();
    let mut path = String::new();
    for (i, segment) in template.segments().iter().enumerate() {
        let taken = match segment {
            Segment::Literal(text) => vec![text.as_str()],
            Segment::Single => vec![fill.next().unwrap_or("a")],
            Segment::Multi => (0..i % 3).filter_map(|_| fill.next()).collect(),
        };
        for segment in taken {
            path.push('/');
            path.push_str(segment);
        }
    }
    if let Some(verb) = template.verb() {
        path.push(':');
        path.push_str(verb);
    }
    if path.is_empty() || path.starts_with(':') { format!("/{path}") } else { path }
}

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn the_router_agrees_with_the_reference_matcher(
        drafts in prop::collection::vec((method(), draft(small_literal(), 3)), 1..10),
        requests in prop::collection::vec((method(), path(), any::<prop::sample::Index>(), path()), 1..12),
    ) {
        let mut builder = RouterBuilder::new();
        let mut routes: Vec<(Method, PathTemplate)> = Vec::new();
        for (method, draft) in drafts {
            let text = text_of(&draft);
            let template = PathTemplate::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if builder.insert(method.clone(), &template, routes.len()).is_ok() {
                routes.push((method, template));
            }
        }
        let router = builder.build();
        for (method, random, pick, filler) in requests {
            // Half the paths are a route's template filled in, so that
            // routes overlap on them.
            let path = match pick.index(2 * routes.len()).checked_sub(routes.len()) {
                Some(at) => instance_of(&routes[at].1, &filler),
                None => random,
            };
            let got = match router.lookup(&method, &path) {
                Ok(found) => Decision::Found(*found.value, found.captures),
                Err(RouteError::NotFound) => Decision::NotFound,
                Err(RouteError::MethodNotAllowed { allow }) => Decision::MethodNotAllowed(allow),
            };
            let expected = decide(&routes, &method, &path);
            let templates: Vec<String> = routes.iter().map(|(m, t)| format!("{m} {t}")).collect();
            prop_assert_eq!(got, expected, "{} {} over {:?}", method, path, templates);
        }
    }
}
