//! Follows the framing of HTTP/1 requests over a connection's byte stream
//! as hyper reads it (request line, header lines, a body by
//! `Content-Length` or chunked with extensions and trailers), allocating
//! nothing, to tell which request's head has both `Content-Length` and
//! `Transfer-Encoding`. What hyper would refuse stops it: hyper fails that
//! connection as well.

/// The header names the scanner cares about, lowercased.
const CONTENT_LENGTH: &[u8] = b"content-length";
const TRANSFER_ENCODING: &[u8] = b"transfer-encoding";
/// Room for the longest name of interest.
const NAME_ROOM: usize = TRANSFER_ENCODING.len();

/// Where the scanner is in the connection's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request line (empty lines are skipped, as hyper does).
    BeforeHead,
    /// In the request line.
    RequestLine,
    /// At the start of a header line (an empty one ends the head).
    LineStart,
    /// In a header name: its first bytes, lowercased.
    Name { room: [u8; NAME_ROOM], len: usize, long: bool },
    /// In a `Content-Length` value: its digits so far.
    Length { digits: Option<u64>, ended: bool },
    /// In any other value (or the rest of a line).
    Value,
    /// A body of that many bytes still to come.
    Fixed(u64),
    /// A chunk size line: the size so far, and whether a digit came.
    ChunkSize(u64, bool),
    /// The rest of a chunk size line (whitespace, extensions) up to its LF.
    ChunkSizeEnd(u64),
    /// Chunk data still to come, then its CRLF.
    ChunkData(u64),
    /// The CRLF after chunk data: how many of its bytes came.
    ChunkDataEnd(u8),
    /// After the last chunk or a trailer line: a CR, or a trailer.
    TrailerStart,
    /// In a trailer line.
    Trailer,
    /// The LF that ends a trailer line.
    TrailerLf,
    /// The last LF of a chunked body.
    BodyEnd,
    /// Nothing more is looked at: a verdict was given, the framing is
    /// broken (hyper fails the connection too), or it was upgraded.
    Off,
}

/// What the current head said so far.
#[derive(Debug, Default, Clone, Copy)]
struct Head {
    length: Option<u64>,
    chunked: bool,
}

/// Follows the framing of HTTP/1 requests over a byte stream.
#[derive(Debug)]
pub(super) struct Scanner {
    state: State,
    head: Head,
    /// The index of the request whose head is being read.
    index: u64,
}

impl Default for Scanner {
    fn default() -> Self {
        Self { state: State::BeforeHead, head: Head::default(), index: 0 }
    }
}

impl Scanner {
    /// Looks at nothing more (the connection was upgraded).
    pub(super) fn stop(&mut self) {
        self.state = State::Off;
    }

    /// Takes the next bytes; the index of a request whose head had both
    /// headers, once its head is complete.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> Option<u64> {
        while let Some((&byte, rest)) = bytes.split_first() {
            match self.state {
                State::Off => return None,
                // Bodies are skipped whole, not byte by byte.
                State::Fixed(left) | State::ChunkData(left) => {
                    let fixed = matches!(self.state, State::Fixed(_));
                    let taken = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    bytes = &bytes[taken..];
                    let left = left - taken as u64;
                    self.state = match (fixed, left) {
                        (true, 0) => self.next_head(),
                        (true, _) => State::Fixed(left),
                        (false, 0) => State::ChunkDataEnd(0),
                        (false, _) => State::ChunkData(left),
                    };
                    continue;
                }
                _ => {}
            }
            bytes = rest;
            if let Some(verdict) = self.step(byte) {
                return Some(verdict);
            }
        }
        None
    }

    fn step(&mut self, byte: u8) -> Option<u64> {
        self.state = match (self.state, byte) {
            (State::BeforeHead, b'\r' | b'\n') => State::BeforeHead,
            (State::BeforeHead, _) => State::RequestLine,
            (State::RequestLine | State::Value, b'\n') => State::LineStart,
            (State::RequestLine | State::Value, _) => self.state,
            (State::LineStart, b'\r') => State::LineStart,
            (State::LineStart, b'\n') => return self.end_of_head(),
            (State::LineStart, _) => State::Name { room: [0; NAME_ROOM], len: 0, long: false }.push(byte),
            (State::Name { .. }, b'\n') => State::LineStart,
            (State::Name { room, len, long }, b':') => self.value_of(&room[..len], long),
            (State::Name { .. }, _) => self.state.push(byte),
            (State::Length { digits: Some(length), .. }, b'\n') => self.length_is(length),
            (State::Length { digits, ended }, _) => length_step(digits, ended, byte),
            (State::ChunkSize(size, digit), _) => match (hex(byte), byte) {
                (Some(value), _) => match size.checked_mul(16).and_then(|size| size.checked_add(value)) {
                    Some(size) => State::ChunkSize(size, true),
                    None => State::Off,
                },
                (None, b' ' | b'\t' | b';' | b'\r') if digit => State::ChunkSizeEnd(size),
                _ => State::Off,
            },
            (State::ChunkSizeEnd(0), b'\n') => State::TrailerStart,
            (State::ChunkSizeEnd(size), b'\n') => State::ChunkData(size),
            (State::ChunkSizeEnd(_), _) => self.state,
            (State::ChunkDataEnd(0), b'\r') => State::ChunkDataEnd(1),
            (State::ChunkDataEnd(1), b'\n') => State::ChunkSize(0, false),
            (State::TrailerStart, b'\r') => State::BodyEnd,
            (State::TrailerStart, _) => State::Trailer,
            (State::Trailer, b'\r') => State::TrailerLf,
            (State::Trailer, _) => State::Trailer,
            (State::TrailerLf, b'\n') => State::TrailerStart,
            (State::BodyEnd, b'\n') => self.next_head(),
            _ => State::Off,
        };
        None
    }

    /// A header name ended with `:`.
    fn value_of(&mut self, name: &[u8], long: bool) -> State {
        if long {
            State::Value
        } else if name == CONTENT_LENGTH {
            State::Length { digits: None, ended: false }
        } else {
            if name == TRANSFER_ENCODING {
                self.head.chunked = true;
            }
            State::Value
        }
    }

    /// A `Content-Length` line ended: a second one must agree (hyper fails
    /// the request otherwise).
    fn length_is(&mut self, length: u64) -> State {
        match self.head.length.replace(length) {
            Some(before) if before != length => State::Off,
            _ => State::LineStart,
        }
    }

    /// The empty line: the head is complete.
    fn end_of_head(&mut self) -> Option<u64> {
        let head = self.head;
        if head.chunked && head.length.is_some() {
            self.state = State::Off;
            return Some(self.index);
        }
        self.state = match head.length {
            // hyper fails a transfer coding that does not end in chunked.
            _ if head.chunked => State::ChunkSize(0, false),
            Some(length) if length > 0 => State::Fixed(length),
            _ => self.next_head(),
        };
        None
    }

    /// The message ended: the next head starts.
    fn next_head(&mut self) -> State {
        self.head = Head::default();
        self.index += 1;
        State::BeforeHead
    }
}

impl State {
    /// One more byte of a header name.
    fn push(self, byte: u8) -> Self {
        match self {
            Self::Name { mut room, len, long } if !long && len < NAME_ROOM => {
                room[len] = byte.to_ascii_lowercase();
                Self::Name { room, len: len + 1, long }
            }
            Self::Name { room, len, .. } => Self::Name { room, len, long: true },
            other => other,
        }
    }
}

/// One byte of a `Content-Length` value: digits between optional blanks, as
/// hyper reads them; anything else is a value hyper refuses.
fn length_step(digits: Option<u64>, ended: bool, byte: u8) -> State {
    match byte {
        b'0'..=b'9' if !ended => {
            let digit = u64::from(byte - b'0');
            match digits.unwrap_or(0).checked_mul(10).and_then(|value| value.checked_add(digit)) {
                Some(value) => State::Length { digits: Some(value), ended },
                None => State::Off,
            }
        }
        b' ' | b'\t' | b'\r' => State::Length { digits, ended: digits.is_some() },
        // An empty value (a line's end after digits is `Scanner::length_is`).
        _ => State::Off,
    }
}

/// The value of a hex digit.
fn hex(byte: u8) -> Option<u64> {
    char::from(byte).to_digit(16).map(u64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict for `bytes` fed whole, and fed one byte at a time.
    fn verdicts(bytes: &[u8]) -> (Option<u64>, Option<u64>) {
        let whole = Scanner::default().feed(bytes);
        let mut scanner = Scanner::default();
        let bytewise = bytes.chunks(1).find_map(|byte| scanner.feed(byte));
        (whole, bytewise)
    }

    #[test]
    fn both_headers_in_either_order_and_any_case_are_found() {
        for head in [
            "content-length: 5\r\ntransfer-encoding: chunked\r\n",
            "Transfer-Encoding: gzip, chunked\r\nContent-Length:0\r\n",
            "CONTENT-LENGTH:  3 \r\nx: y\r\nTRANSFER-ENCODING: chunked\r\n",
        ] {
            let request = format!("POST / HTTP/1.1\r\nhost: x\r\n{head}\r\n0\r\n\r\n");
            assert_eq!(verdicts(request.as_bytes()), (Some(0), Some(0)), "{head:?}");
        }
    }

    #[test]
    fn framed_bodies_are_skipped_to_the_next_head() {
        // Bodies that look like heads with both headers.
        let fake = "transfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n";
        let mut stream = format!("\r\nPOST /a HTTP/1.1\nhost: x\ncontent-length: {}\n\n{fake}", fake.len());
        stream.push_str("POST /b HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n");
        stream.push_str(&format!("{:X};name=value\r\n{fake}\r\n0\r\n\r\n", fake.len()));
        stream.push_str("POST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n");
        stream.push_str("content-length: 9\r\nx-t: 1\r\n\r\n");
        stream.push_str("GET /d HTTP/1.1\r\ncontent-length: 0\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(verdicts(stream.as_bytes()), (None, None));
        stream.push_str("POST /e HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n");
        assert_eq!(verdicts(stream.as_bytes()), (Some(4), Some(4)));
    }

    #[test]
    fn long_names_and_other_headers_do_not_count() {
        let request = b"POST / HTTP/1.1\r\ncontent-length-x: 5\r\nx-transfer-encoding: chunked\r\n\
            transfer-encodingx: chunked\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(verdicts(request), (None, None));
    }

    #[test]
    fn what_hyper_refuses_stops_the_scan() {
        for stream in [
            &b"POST / HTTP/1.1\r\ncontent-length: +4\r\n\r\nPOST / HTTP/1.1\r\n"[..],
            b"POST / HTTP/1.1\r\ncontent-length: 4\r\ncontent-length: 5\r\n\r\n",
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n",
        ] {
            let mut scanner = Scanner::default();
            assert_eq!(scanner.feed(stream), None);
            assert_eq!(scanner.state, State::Off, "{}", String::from_utf8_lossy(stream));
        }
    }
}
