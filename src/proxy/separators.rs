//! Path hygiene of pass-through routes: paths that a backend could read as
//! another path than the one the gateway routed are refused.
//!
//! The router matched the normalised path; a backend that decodes `%2F`
//! into `/`, treats `\` (or `%5C`) as `/`, stops at `%00`, or drops `;`
//! path parameters before resolving dot segments (Tomcat, Spring) would see
//! `/open/..%2Fadmin`, `/open/..\admin` or `/open/..;/admin` as `/admin`,
//! past the policies of the route that owns it. Refused: a backslash,
//! `%5C`, `%00`, `%2F` (unless the route allows encoded slashes, and then
//! never beside a dot segment), and a dot segment carrying path parameters
//! (`..;x`, `.;x`). Hex digits may be of either case; dots may be `%2E`.
//!
//! It reads the path only; it allocates nothing.

/// Why a path is refused, or `None` when it is safe to forward.
pub(super) fn ambiguity(path: &str, allow_encoded_slashes: bool) -> Option<&'static str> {
    if path.contains('\\') {
        return Some("a backslash");
    }
    for segment in path.split('/') {
        if let Some(reason) = segment_ambiguity(segment, allow_encoded_slashes) {
            return Some(reason);
        }
    }
    None
}

fn segment_ambiguity(segment: &str, allow_encoded_slashes: bool) -> Option<&'static str> {
    let bytes = segment.as_bytes();
    let mut slashes = false;
    for (at, byte) in bytes.iter().enumerate() {
        if *byte != b'%' {
            continue;
        }
        match bytes.get(at + 1..at + 3) {
            Some([b'5', b'c' | b'C']) => return Some("an encoded backslash (%5C)"),
            Some([b'0', b'0']) => return Some("an encoded NUL (%00)"),
            Some([b'2', b'f' | b'F']) if !allow_encoded_slashes => return Some("an encoded slash (%2F)"),
            Some([b'2', b'f' | b'F']) => slashes = true,
            _ => {}
        }
    }
    if slashes && split_encoded_slashes(segment).any(|piece| is_dot_segment(before_parameters(piece))) {
        return Some("a dot segment beside an encoded slash");
    }
    let name = before_parameters(segment);
    (name.len() < segment.len() && is_dot_segment(name)).then_some("a dot segment with path parameters (;)")
}

/// The segment without its path parameters (what follows the first `;`).
fn before_parameters(segment: &str) -> &str {
    segment.split_once(';').map_or(segment, |(name, _)| name)
}

/// The pieces of a segment between its `%2F`s (either case).
fn split_encoded_slashes(segment: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(segment);
    std::iter::from_fn(move || {
        let text = rest?;
        let at = text
            .as_bytes()
            .windows(3)
            .position(|w| w[0] == b'%' && w[1] == b'2' && matches!(w[2], b'f' | b'F'));
        match at {
            Some(at) => {
                rest = text.get(at + 3..);
                text.get(..at)
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// `.` or `..`, any dot possibly written `%2E` (either case).
pub(super) fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return false,
        };
        dots += 1;
    }
    matches!(dots, 1 | 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_paths_are_named() {
        for (path, reason) in [
            ("/a/..%2Fadmin", "an encoded slash (%2F)"),
            ("/a/b%2fc", "an encoded slash (%2F)"),
            ("/a/..%5cadmin", "an encoded backslash (%5C)"),
            ("/a/..\\admin", "a backslash"),
            ("/a/x%00.html", "an encoded NUL (%00)"),
            ("/a/..;/admin", "a dot segment with path parameters (;)"),
            ("/a/%2e%2E;x/admin", "a dot segment with path parameters (;)"),
            ("/a/.;x", "a dot segment with path parameters (;)"),
        ] {
            assert_eq!(ambiguity(path, false), Some(reason), "{path}");
        }
        for path in ["/", "/a/b", "/a;v=1/b", "/a/...;x", "/a/%2F%2e", "/a/b%25", "/a/%2"] {
            let expected = path.contains("%2F").then_some("an encoded slash (%2F)");
            assert_eq!(ambiguity(path, false), expected, "{path}");
        }
    }

    #[test]
    fn allowed_encoded_slashes_never_sit_beside_dots() {
        assert_eq!(ambiguity("/files/a%2Fb%2fc", true), None);
        assert_eq!(ambiguity("/files/a%2F...%2Fb", true), None);
        for path in ["/files/..%2Fadmin", "/files/a%2F..", "/files/.%2fa", "/files/a%2F%2E%2e;x%2Fb"] {
            assert_eq!(ambiguity(path, true), Some("a dot segment beside an encoded slash"), "{path}");
        }
        assert_eq!(ambiguity("/files/a%5Cb", true), Some("an encoded backslash (%5C)"));
    }

    #[test]
    fn dot_segments_in_any_spelling() {
        for dots in [".", "..", "%2e", "%2E%2e", ".%2E"] {
            assert!(is_dot_segment(dots), "{dots}");
        }
        for other in ["", "...", "a", "%2e%2e%2e", ".a", "%2", "%2f"] {
            assert!(!is_dot_segment(other), "{other}");
        }
    }
}
