//! Percent-encoding as the router sees it: the canonical form in which
//! literal segments and verbs are compared, and the decoding of captures.
//!
//! Canonical form (RFC 3986 section 6.2.2): a `%XX` triplet that encodes an
//! unreserved character (ALPHA DIGIT `-` `.` `_` `~`) becomes that
//! character; any other triplet stays encoded with upper-case hex digits;
//! unreserved characters, sub-delims, `:` and `@` stay as they are; every
//! other byte (non-ASCII, space, ...) is encoded. So `caf%c3%a9`,
//! `caf%C3%A9` and `café` compare equal, and `%2F` never equals `/`. A `%`
//! that does not start a valid triplet makes the segment equal to no
//! literal: canonical forms are ASCII, and it yields the byte 0xFF.

use std::cmp::Ordering;

use crate::http_rule::{PathTemplate, Segment};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// What an invalid `%` yields in the canonical form; never part of a literal.
const INVALID: u8 = 0xFF;

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Bytes the canonical form keeps as they are: RFC 3986 `pchar` less `%`.
fn is_kept(byte: u8) -> bool {
    is_unreserved(byte) || b"!$&'()*+,;=:@".contains(&byte)
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|value| u8::try_from(value).ok())
}

/// The byte a `%XX` triplet encodes, from its two hex digits.
fn triplet(high: u8, low: u8) -> Option<u8> {
    Some(hex_value(high)? << 4 | hex_value(low)?)
}

/// The canonical form of a segment, byte by byte, without allocating.
struct Canonical<'a> {
    rest: &'a [u8],
    /// Hex digits still to yield after a `%`.
    queued: [u8; 2],
    queued_len: usize,
}

impl<'a> Canonical<'a> {
    fn new(text: &'a str) -> Self {
        Self { rest: text.as_bytes(), queued: [0; 2], queued_len: 0 }
    }

    fn encode(&mut self, byte: u8) -> u8 {
        self.queued = [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xF)]];
        self.queued_len = 2;
        b'%'
    }
}

impl Iterator for Canonical<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.queued_len > 0 {
            let byte = self.queued[2 - self.queued_len];
            self.queued_len -= 1;
            return Some(byte);
        }
        let rest = self.rest;
        match rest {
            [] => None,
            [b'%', after @ ..] => {
                let decoded = match after {
                    [high, low, tail @ ..] => triplet(*high, *low).map(|byte| (byte, tail)),
                    _ => None,
                };
                match decoded {
                    Some((byte, tail)) => {
                        self.rest = tail;
                        Some(if is_unreserved(byte) { byte } else { self.encode(byte) })
                    }
                    None => {
                        self.rest = after;
                        Some(INVALID)
                    }
                }
            }
            [byte, tail @ ..] => {
                self.rest = tail;
                Some(if is_kept(*byte) { *byte } else { self.encode(*byte) })
            }
        }
    }
}

/// The canonical form of a template's literal or verb (valid by parsing).
pub(super) fn canonical(text: &str) -> Box<str> {
    Canonical::new(text).map(char::from).collect()
}

/// The canonical form of raw request text; `None` on an invalid `%`.
pub(super) fn canonical_of_raw(raw: &str) -> Option<String> {
    let bytes: Vec<u8> = Canonical::new(raw).collect();
    if bytes.contains(&INVALID) {
        return None;
    }
    // Canonical forms are ASCII.
    String::from_utf8(bytes).ok()
}

/// Orders a canonical literal against the canonical form of raw request text.
pub(super) fn cmp_canonical(canonical: &str, raw: &str) -> Ordering {
    canonical.bytes().cmp(Canonical::new(raw))
}

/// Appends the percent-decoding of `segment` to `out`, in one pass; with
/// `keep_slash`, `%2F` and `%2f` stay as written. `None` on an invalid `%`.
fn decode_into(segment: &str, keep_slash: bool, out: &mut Vec<u8>) -> Option<()> {
    let mut rest = segment.as_bytes();
    loop {
        rest = match *rest {
            [] => return Some(()),
            [b'%', high, low, ref tail @ ..] => {
                match triplet(high, low)? {
                    b'/' if keep_slash => out.extend_from_slice(&[b'%', high, low]),
                    byte => out.push(byte),
                }
                tail
            }
            [b'%', ..] => return None,
            [byte, ref tail @ ..] => {
                out.push(byte);
                tail
            }
        };
    }
}

/// The text each variable of `template` captures from the request
/// `segments` it matched, in the order of [`PathTemplate::variables`].
///
/// A variable over one segment (not `**`) is fully decoded; a variable over
/// several, or over `**`, is decoded except `%2F`, its segments joined with
/// `/`. `None` when a capture has an invalid `%` or is not UTF-8 once
/// decoded: the template then does not match.
pub(super) fn captures(template: &PathTemplate, segments: &[&str]) -> Option<Vec<String>> {
    let pattern = template.segments();
    let multi = pattern.iter().position(|segment| *segment == Segment::Multi);
    // Template segment boundary -> request segment boundary: past `**` the
    // template is shifted by what `**` consumed, `segments.len() + 1 -
    // pattern.len()`, less the one template segment `**` itself is.
    let boundary = |index: usize| match multi {
        Some(at) if index > at => (index + segments.len()).checked_sub(pattern.len()),
        _ => Some(index),
    };
    let mut captures = Vec::with_capacity(template.variables().len());
    for variable in template.variables() {
        let spanned = segments.get(boundary(variable.start)?..boundary(variable.end)?)?;
        let whole =
            variable.end - variable.start == 1 && pattern.get(variable.start) != Some(&Segment::Multi);
        let mut bytes = Vec::new();
        for (i, segment) in spanned.iter().enumerate() {
            if i > 0 {
                bytes.push(b'/');
            }
            decode_into(segment, !whole, &mut bytes)?;
        }
        captures.push(String::from_utf8(bytes).ok()?);
    }
    Some(captures)
}
