//! Request-path normalisation: the path split into segments with empty
//! segments dropped (so `//` merges and a trailing `/` is ignored), `.`
//! dropped and `..` removing the segment before it, never above the root.
//! A dot segment may be written with `%2E`, as RFC 3986 normalisation
//! decodes unreserved characters before removing dot segments.
//!
//! The segments borrow from the path; up to [`INLINE`] of them live on the
//! stack, so a lookup of an ordinary path allocates nothing here.

use std::cmp::Ordering;

use super::decode::cmp_canonical;

/// How many segments fit without allocating.
const INLINE: usize = 32;

/// The segments of a normalised request path.
#[expect(
    clippy::large_enum_variant,
    reason = "the inline buffer is the point: it lives on the lookup's stack"
)]
pub(super) enum Segments<'a> {
    Inline { buf: [&'a str; INLINE], len: usize },
    Heap(Vec<&'a str>),
}

impl<'a> Segments<'a> {
    /// Splits and normalises `path`; `None` unless it starts with `/`.
    pub(super) fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix('/')?;
        let mut segments = Self::Inline { buf: [""; INLINE], len: 0 };
        for segment in rest.split('/') {
            if segment.is_empty() || is_dots(segment, ".") {
                continue;
            }
            if is_dots(segment, "..") {
                segments.pop();
            } else {
                segments.push(segment);
            }
        }
        Some(segments)
    }

    /// The segments, mutable so that the router can split a verb off the last.
    pub(super) fn as_mut_slice(&mut self) -> &mut [&'a str] {
        match self {
            Self::Inline { buf, len } => buf.get_mut(..*len).unwrap_or_default(),
            Self::Heap(segments) => segments,
        }
    }

    fn push(&mut self, segment: &'a str) {
        match self {
            Self::Inline { buf, len } => match buf.get_mut(*len) {
                Some(slot) => {
                    *slot = segment;
                    *len += 1;
                }
                None => {
                    let mut heap = Vec::with_capacity(2 * INLINE);
                    heap.extend_from_slice(buf);
                    heap.push(segment);
                    *self = Self::Heap(heap);
                }
            },
            Self::Heap(segments) => segments.push(segment),
        }
    }

    fn pop(&mut self) {
        match self {
            Self::Inline { len, .. } => *len = len.saturating_sub(1),
            Self::Heap(segments) => {
                segments.pop();
            }
        }
    }
}

/// Whether `segment` is the dot segment `dots` (`.` or `..`).
fn is_dots(segment: &str, dots: &str) -> bool {
    segment.len() <= 3 * dots.len() && cmp_canonical(dots, segment) == Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::Segments;

    fn normalise(path: &str) -> Option<Vec<&str>> {
        Segments::parse(path).map(|mut segments| segments.as_mut_slice().to_vec())
    }

    #[test]
    fn merges_resolves_and_ignores_trailing_slash() {
        let cases: [(&str, &[&str]); 10] = [
            ("/", &[]),
            ("/a/b/", &["a", "b"]),
            ("//a///b//", &["a", "b"]),
            ("/a/./b/../c", &["a", "c"]),
            ("/../../a", &["a"]),
            ("/a/..", &[]),
            ("/a/%2E%2e/b/%2E", &["b"]),
            ("/a/.../.b/b.", &["a", "...", ".b", "b."]),
            ("/a/%2E%2E%2E", &["a", "%2E%2E%2E"]),
            ("/a:v/", &["a:v"]),
        ];
        for (path, expected) in cases {
            assert_eq!(normalise(path).as_deref(), Some(expected), "{path}");
        }
        assert_eq!(normalise(""), None);
        assert_eq!(normalise("a/b"), None);
    }

    #[test]
    fn spills_past_the_inline_buffer_and_pops_back() {
        let long: String = (0..40).map(|i| format!("/s{i}")).collect();
        let segments = normalise(&long).expect("absolute");
        assert_eq!(segments.len(), 40);
        assert_eq!(segments[39], "s39");
        let back = format!("{long}{}", "/..".repeat(35));
        assert_eq!(normalise(&back).expect("absolute"), ["s0", "s1", "s2", "s3", "s4"]);
    }
}
