//! One test per routing rule: specificity and backtracking, `**`, path
//! normalisation, percent-decoding, verbs, methods, conflicts and scale.

use http::Method;

use super::{binds, bound, get, lookup, parse, router};
use crate::router::{RouteError, RouterBuilder};

fn winner(templates: &[&str], path: &str) -> String {
    bound(&get(templates), path).0
}

#[test]
fn literal_beats_single_beats_multi() {
    let templates = ["/a/**", "/a/*", "/a/b"];
    assert_eq!(winner(&templates, "/a/b"), "/a/b");
    assert_eq!(winner(&templates, "/a/c"), "/a/*");
    assert_eq!(winner(&templates, "/a/c/d"), "/a/**");
    assert_eq!(winner(&templates, "/a"), "/a/**", "** matches zero segments");
}

#[test]
fn backtracks_out_of_dead_ends() {
    assert_eq!(winner(&["/a/b/c", "/a/*/d"], "/a/b/d"), "/a/*/d");
    assert_eq!(winner(&["/x/q/y/w", "/x/*/y/z"], "/x/q/y/z"), "/x/*/y/z");
    assert_eq!(winner(&["/a/b/c", "/a/**"], "/a/b/c/d"), "/a/**");
    assert_eq!(winner(&["/a/b/c", "/a/b"], "/a/b"), "/a/b");
    let deep = get(&["/a/b/c/d", "/a/*/c/e"]);
    assert_eq!(lookup(&deep, "GET", "/a/b/c/f"), Err(RouteError::NotFound));
}

#[test]
fn literals_after_multi() {
    let r = get(&["/a/**/b", "/a/**"]);
    assert_eq!(bound(&r, "/a/b").0, "/a/**/b", "** takes nothing");
    assert_eq!(bound(&r, "/a/x/y/b").0, "/a/**/b");
    assert_eq!(bound(&r, "/a/x/b/y").0, "/a/**");
    assert_eq!(winner(&["/a/**/c", "/a/**/b/c"], "/a/b/c"), "/a/**/b/c", "longest literal suffix");
    let r = get(&["/a/{x=**}/b", "/{y=**}/z"]);
    assert_eq!(bound(&r, "/a/p/q/b"), ("/a/{x=**}/b".into(), binds(&[("x", "p/q")])));
    assert_eq!(bound(&r, "/a/b/b"), ("/a/{x=**}/b".into(), binds(&[("x", "b")])));
    assert_eq!(bound(&r, "/z"), ("/{y=**}/z".into(), binds(&[("y", "")])));
    assert_eq!(lookup(&r, "GET", "/a/p"), Err(RouteError::NotFound));
}

#[test]
fn captures_follow_variable_order() {
    let r = get(&["/{b}/x/{a=c/*}/{z.y=**}"]);
    let found = r.lookup(&Method::GET, "/1/x/c/2/3/4").expect("matches");
    assert_eq!(found.captures, ["1", "c/2", "3/4"]);
}

#[test]
fn normalises_the_request_path() {
    let r = get(&["/a/b", "/c", "/"]);
    for path in ["/a/b/", "//a///b", "/a/./b", "/a/x/../b", "/../a/b", "/c/../a/%2E/b", "/a/%2e%2E/a/b"] {
        assert_eq!(bound(&r, path).0, "/a/b", "{path}");
    }
    assert_eq!(bound(&r, "/a/..").0, "/");
    assert_eq!(bound(&r, "//").0, "/");
    assert_eq!(lookup(&r, "GET", "a/b"), Err(RouteError::NotFound), "no leading slash");
    assert_eq!(lookup(&r, "GET", ""), Err(RouteError::NotFound));
}

#[test]
fn literals_compare_in_canonical_form() {
    let r = get(&["/a-b/c~d", "/p%2Fq", "/caf%C3%A9", "/thé"]);
    assert_eq!(bound(&r, "/%61%2Db/c%7ed").0, "/a-b/c~d", "unreserved escapes decode");
    assert_eq!(bound(&r, "/p%2fq").0, "/p%2Fq", "hex case does not matter");
    assert_eq!(lookup(&r, "GET", "/p/q"), Err(RouteError::NotFound), "%2F is not a '/'");
    assert_eq!(bound(&r, "/café").0, "/caf%C3%A9");
    assert_eq!(bound(&r, "/caf%c3%a9").0, "/caf%C3%A9");
    assert_eq!(bound(&r, "/th%C3%A9").0, "/thé");
    assert_eq!(lookup(&r, "GET", "/a%2db%zz"), Err(RouteError::NotFound));
}

#[test]
fn percent_decoding_of_captures() {
    let r = get(&["/one/{x}", "/many/{x=**}", "/two/{x=a/*}"]);
    assert_eq!(bound(&r, "/one/p%2Fq%20r+").1, binds(&[("x", "p/q r+")]));
    assert_eq!(bound(&r, "/many/p%2Fq/r%2fs%20").1, binds(&[("x", "p%2Fq/r%2fs ")]));
    assert_eq!(bound(&r, "/two/a/p%2Fq").1, binds(&[("x", "a/p%2Fq")]));
    assert_eq!(bound(&r, "/one/%2523").1, binds(&[("x", "%23")]), "one pass");
    assert_eq!(bound(&r, "/many/%2523/%252F").1, binds(&[("x", "%23/%2F")]));
    assert_eq!(bound(&r, "/one/%E2%9C%93").1, binds(&[("x", "✓")]));
    assert_eq!(bound(&r, "/one/✓").1, binds(&[("x", "✓")]), "raw non-ASCII");
}

#[test]
fn undecodable_captures_do_not_match() {
    let r = get(&["/a/{x}", "/b/{x=**}"]);
    for path in ["/a/%zz", "/a/%4", "/a/%", "/a/%FF", "/a/%C3", "/b/ok/%G0", "/b/%80/x"] {
        assert_eq!(lookup(&r, "GET", path), Err(RouteError::NotFound), "{path}");
    }
    let r = get(&["/a/{x}", "/a/**"]);
    assert_eq!(bound(&r, "/a/%FF").0, "/a/**", "the search goes on past the refused capture");
    assert_eq!(bound(&r, "/a/ok").0, "/a/{x}");
}

#[test]
fn verbs_depend_on_the_method() {
    let r = router(&[("GET", "/a/{id}"), ("POST", "/a/{id}:cancel"), ("GET", "/x:cancel")]);
    assert_eq!(bound(&r, "/a/1:cancel"), ("/a/{id}".into(), binds(&[("id", "1:cancel")])), "fallback");
    let post = lookup(&r, "POST", "/a/1:cancel").expect("verb");
    assert_eq!(post, ("/a/{id}:cancel".into(), binds(&[("id", "1")])));
    assert_eq!(lookup(&r, "POST", "/a/1:%63ancel").expect("encoded verb").0, "/a/{id}:cancel");
    assert_eq!(lookup(&r, "POST", "/a/1:cancel/").expect("trailing slash").0, "/a/{id}:cancel");
    let get_head = || Err(RouteError::MethodNotAllowed { allow: vec![Method::GET, Method::HEAD] });
    assert_eq!(lookup(&r, "POST", "/a/1"), get_head());
    assert_eq!(bound(&r, "/x:cancel").0, "/x:cancel");
    assert_eq!(lookup(&r, "GET", "/x"), Err(RouteError::NotFound));
    assert_eq!(lookup(&r, "POST", "/a/:cancel"), get_head(), "no stem: no verb");
    assert_eq!(bound(&r, "/a/:cancel").1, binds(&[("id", ":cancel")]));
    let r = router(&[("GET", "/{n=a/*}:v"), ("GET", "/{n=**}")]);
    assert_eq!(bound(&r, "/a:x/b:v"), ("/{n=**}".into(), binds(&[("n", "a:x/b:v")])));
    assert_eq!(bound(&r, "/a/b:v"), ("/{n=a/*}:v".into(), binds(&[("n", "a/b")])));
}

#[test]
fn method_not_allowed_versus_not_found() {
    let r =
        router(&[("PUT", "/a"), ("GET", "/a"), ("DELETE", "/b/{x}"), ("PATCH", "/b/**"), ("GET", "/c/{x}")]);
    let allow = |methods: &[Method]| Err(RouteError::MethodNotAllowed { allow: methods.to_vec() });
    assert_eq!(lookup(&r, "POST", "/a"), allow(&[Method::GET, Method::HEAD, Method::PUT]));
    assert_eq!(lookup(&r, "GET", "/b/1"), allow(&[Method::DELETE, Method::PATCH]));
    assert_eq!(lookup(&r, "GET", "/b/1/2"), allow(&[Method::PATCH]));
    assert_eq!(lookup(&r, "GET", "/d"), Err(RouteError::NotFound));
    assert_eq!(lookup(&r, "POST", "/c/ok"), allow(&[Method::GET, Method::HEAD]));
    assert_eq!(lookup(&r, "HEAD", "/c/ok").expect("HEAD as GET").0, "/c/{x}");
    assert_eq!(lookup(&r, "HEAD", "/b/1"), allow(&[Method::DELETE, Method::PATCH]));
    assert_eq!(lookup(&r, "POST", "/c/%FF"), Err(RouteError::NotFound), "the GET capture fails too");
    assert_eq!(lookup(&r, "GET", "/a").expect("GET").0, "/a");
}

#[test]
fn duplicates_are_refused() {
    let mut builder = RouterBuilder::new();
    let mut add = |method: Method, text: &str| {
        builder.insert(method, &parse(text), text.to_owned()).map_err(|c| c.existing.clone())
    };
    assert_eq!(add(Method::GET, "/a/{x}"), Ok(()));
    assert_eq!(add(Method::GET, "/a/*"), Err("/a/{x}".to_owned()), "same paths, other names");
    assert_eq!(add(Method::POST, "/a/*"), Ok(()), "another method");
    assert_eq!(add(Method::GET, "/a/{x}:v"), Ok(()), "with a verb");
    assert_eq!(add(Method::GET, "/a/{y}:v"), Err("/a/{x}:v".to_owned()));
    assert_eq!(add(Method::GET, "/a/{x}:w"), Ok(()));
    assert_eq!(add(Method::GET, "/b/{x=**}"), Ok(()));
    assert_eq!(add(Method::GET, "/b/**"), Err("/b/{x=**}".to_owned()));
    assert_eq!(add(Method::GET, "/c/{x=d/*}"), Ok(()));
    assert_eq!(add(Method::GET, "/c/d/{x}"), Err("/c/{x=d/*}".to_owned()));
    assert_eq!(add(Method::GET, "/e-f"), Ok(()));
    assert_eq!(add(Method::GET, "/e%2Df"), Err("/e-f".to_owned()), "canonical literals");
    assert_eq!(add(Method::GET, "/"), Ok(()));
    assert_eq!(add(Method::GET, "/"), Err("/".to_owned()));
    let r = builder.build();
    assert_eq!(r.lookup(&Method::GET, "/a/1").expect("first kept").value, "/a/{x}");
}

#[test]
fn long_paths_spill_and_still_match() {
    let r = get(&["/a/{x=**}", "/a/b/**/z"]);
    let long: String = (0..50).map(|i| format!("/s{i}")).collect();
    let (template, bind) = bound(&r, &format!("/a{long}"));
    assert_eq!(template, "/a/{x=**}");
    assert_eq!(bind["x"].split('/').count(), 50);
    assert_eq!(bound(&r, &format!("/a/b{long}/z")).0, "/a/b/**/z");
}

#[test]
fn ten_thousand_routes() {
    let mut routes = Vec::new();
    for i in 0..10_000 {
        routes.push(("GET", format!("/r{i}/items/{{id}}")));
        routes.push(("POST", format!("/r{i}/items/{{id}}:run")));
        routes.push(("GET", format!("/s/{{name}}/v{i}")));
    }
    let pairs: Vec<(&str, &str)> = routes.iter().map(|(m, t)| (*m, t.as_str())).collect();
    let r = router(&pairs);
    for i in [0, 1, 42, 4_999, 9_999] {
        assert_eq!(
            bound(&r, &format!("/r{i}/items/7")),
            (format!("/r{i}/items/{{id}}"), binds(&[("id", "7")]))
        );
        let run = lookup(&r, "POST", &format!("/r{i}/items/7:run")).expect("verb");
        assert_eq!(run, (format!("/r{i}/items/{{id}}:run"), binds(&[("id", "7")])));
        assert_eq!(bound(&r, &format!("/s/n/v{i}")).1, binds(&[("name", "n")]));
    }
    assert_eq!(lookup(&r, "GET", "/r10000/items/7"), Err(RouteError::NotFound));
    assert_eq!(lookup(&r, "GET", "/s/n/v10000"), Err(RouteError::NotFound));
    assert_eq!(
        lookup(&r, "PUT", "/r5/items/7"),
        Err(RouteError::MethodNotAllowed { allow: vec![Method::GET, Method::HEAD] })
    );
}
