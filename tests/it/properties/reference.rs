//! A naive reference matcher for the router's property: every template
//! is tried against the whole path, and the most specific match wins by
//! the house rules (at the first segment where two matching templates
//! differ, literal > `*` > `**`; a template that ends beats a `**` that
//! would take nothing; of two `**`, the one that takes fewer segments). A
//! verb split off the last segment is tried first when some template of
//! the method has it. HEAD takes GET's templates when none of its own
//! matches, and `Allow` names HEAD beside GET. Written for clarity, not speed: strings allocated
//! freely, no trie, no shared code with the router.

use http::Method;
use protogate::http_rule::{PathTemplate, Segment};

/// The canonical form of raw text (RFC 3986 6.2.2): escapes of unreserved
/// characters decoded, other escapes upper-cased, other bytes outside
/// `pchar` encoded. `None` for an invalid `%`.
pub fn canonical(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let (byte, escaped) = if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3).filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
            i += 3;
            (u8::from_str_radix(hex, 16).ok()?, true)
        } else {
            i += 1;
            (bytes[i - 1], false)
        };
        let unreserved = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
        if unreserved || (!escaped && b"!$&'()*+,;=:@".contains(&byte)) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    Some(out)
}

/// The segments of a path: empty ones dropped, `.` dropped, `..` taking
/// the one before it (dots may be escaped).
pub fn normalise(path: &str) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    for segment in path.strip_prefix('/')?.split('/') {
        match canonical(segment).as_deref() {
            _ if segment.is_empty() => {}
            Some(".") => {}
            Some("..") => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    Some(segments)
}

/// Percent-decodes a segment; with `keep_slash`, `%2F` stays as written.
fn decode(segment: &str, keep_slash: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < segment.len() {
        if segment.as_bytes()[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            match u8::from_str_radix(hex, 16).ok()? {
                b'/' if keep_slash => out.extend_from_slice(&segment.as_bytes()[i..i + 3]),
                byte => out.push(byte),
            }
            i += 3;
        } else {
            out.push(segment.as_bytes()[i]);
            i += 1;
        }
    }
    Some(out)
}

/// What the reference decides for a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The index of the winning route, and its captures.
    Found(usize, Vec<String>),
    NotFound,
    MethodNotAllowed(Vec<Method>),
}

/// One matching template: its specificity key (smaller wins) and captures.
struct Match {
    key: Vec<usize>,
    captures: Vec<String>,
}

fn literal_matches(literal: &str, raw: &str) -> bool {
    matches!((canonical(literal), canonical(raw)), (Some(a), Some(b)) if a == b)
}

fn match_template(template: &PathTemplate, segments: &[&str], verb: Option<&str>) -> Option<Match> {
    match (template.verb(), verb) {
        (None, None) => {}
        (Some(theirs), Some(ours)) if literal_matches(theirs, ours) => {}
        _ => return None,
    }
    let pattern = template.segments();
    let multi = pattern.iter().position(|s| *s == Segment::Multi);
    let fits = |p: &Segment, s: &str| match p {
        Segment::Literal(text) => literal_matches(text, s),
        Segment::Single => true,
        Segment::Multi => false,
    };
    let mut key = Vec::new();
    match multi {
        Some(at) => {
            let suffix = pattern.len() - at - 1;
            if segments.len() < at + suffix {
                return None;
            }
            let tail = &segments[segments.len() - suffix..];
            let prefix_fits = pattern[..at].iter().zip(segments).all(|(p, s)| fits(p, s));
            if !prefix_fits || !pattern[at + 1..].iter().zip(tail).all(|(p, s)| fits(p, s)) {
                return None;
            }
            key.extend(pattern[..at].iter().map(rank));
            key.extend([2, usize::MAX - suffix]);
        }
        None => {
            if segments.len() != pattern.len() || !pattern.iter().zip(segments).all(|(p, s)| fits(p, s)) {
                return None;
            }
            key.extend(pattern.iter().map(rank));
        }
    }
    // A template index past `**` moves by what `**` took, less itself.
    let request_index = |i: usize| match multi {
        Some(at) if i > at => i + segments.len() - pattern.len(),
        _ => i,
    };
    let mut captures = Vec::new();
    for variable in template.variables() {
        let spanned = &segments[request_index(variable.start)..request_index(variable.end)];
        let whole = variable.end - variable.start == 1 && pattern[variable.start] != Segment::Multi;
        let decoded: Option<Vec<Vec<u8>>> = spanned.iter().map(|s| decode(s, !whole)).collect();
        captures.push(String::from_utf8(decoded?.join(&b'/')).ok()?);
    }
    Some(Match { key, captures })
}

fn rank(segment: &Segment) -> usize {
    match segment {
        Segment::Literal(_) => 0,
        Segment::Single => 1,
        Segment::Multi => 2,
    }
}

/// The best match among `routes` (index, template) for `segments`.
fn best<'a>(
    routes: impl Iterator<Item = (usize, &'a PathTemplate)> + Clone,
    segments: &[&str],
) -> Option<(usize, Vec<String>)> {
    let in_mode = |segments: &[&str], verb: Option<&str>| {
        routes
            .clone()
            .filter_map(|(index, template)| Some((index, match_template(template, segments, verb)?)))
            .min_by(|a, b| a.1.key.cmp(&b.1.key))
            .map(|(index, found)| (index, found.captures))
    };
    if let Some((stem, verb)) = segments.last().and_then(|last| last.rsplit_once(':'))
        && !stem.is_empty()
        && routes.clone().any(|(_, t)| t.verb().is_some_and(|theirs| literal_matches(theirs, verb)))
    {
        let mut split = segments.to_vec();
        if let Some(last) = split.last_mut() {
            *last = stem;
        }
        if let Some(found) = in_mode(&split, Some(verb)) {
            return Some(found);
        }
    }
    in_mode(segments, None)
}

/// The reference decision for `method` and `path` over `routes`.
pub fn decide(routes: &[(Method, PathTemplate)], method: &Method, path: &str) -> Decision {
    let Some(segments) = normalise(path) else { return Decision::NotFound };
    fn of<'a>(
        routes: &'a [(Method, PathTemplate)],
        wanted: &'a Method,
    ) -> impl Iterator<Item = (usize, &'a PathTemplate)> + Clone {
        routes.iter().enumerate().filter(move |(_, (m, _))| m == wanted).map(|(i, (_, t))| (i, t))
    }
    if let Some((index, captures)) = best(of(routes, method), &segments) {
        return Decision::Found(index, captures);
    }
    // HEAD is served wherever GET is, unless a template is bound to HEAD itself.
    if method == Method::HEAD
        && let Some((index, captures)) = best(of(routes, &Method::GET), &segments)
    {
        return Decision::Found(index, captures);
    }
    let mut allow: Vec<Method> = Vec::new();
    for (other, _) in routes {
        if other != method && !allow.contains(other) && best(of(routes, other), &segments).is_some() {
            allow.push(other.clone());
        }
    }
    if allow.contains(&Method::GET) && !allow.contains(&Method::HEAD) {
        allow.push(Method::HEAD);
    }
    allow.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    if allow.is_empty() { Decision::NotFound } else { Decision::MethodNotAllowed(allow) }
}
