//! Cuts a streamed request body into its messages as the bytes arrive:
//! NDJSON (one JSON value a line, blank lines skipped) or one JSON array
//! (its elements). It never holds more than one message's bytes (within
//! the limit it is given) and never parses JSON beyond finding where a
//! message ends: binding the message does that.

use bytes::{Buf, Bytes, BytesMut};

/// How a request stream's messages are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    /// One JSON value per line (`application/x-ndjson`).
    Ndjson,
    /// One JSON array of messages (`application/json`).
    JsonArray,
}

/// Why the body cannot be cut into messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// A message grows past the limit (its index, the limit).
    TooLarge(u64, usize),
    /// The array's syntax is broken at the message of this index.
    Syntax(u64, &'static str),
    /// The body ended inside a message, or before the array closed.
    Truncated(u64),
}

/// Where the array reader stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// Before `[`.
    Open,
    /// After `[` or `,`: an element (or `]` right after `[`).
    Element,
    /// After an element: `,` or `]`.
    Separator,
    /// After `]`: only whitespace.
    Closed,
}

/// The splitter of one request body.
#[derive(Debug)]
pub struct Splitter {
    framing: RequestFraming,
    limit: usize,
    buffer: BytesMut,
    /// Messages cut so far (the next one's index).
    index: u64,
    // The scan of the array's current element.
    state: ArrayState,
    depth: usize,
    in_string: bool,
    escaped: bool,
    scanned: usize,
}

impl Splitter {
    /// A splitter whose messages are at most `limit` bytes.
    pub fn new(framing: RequestFraming, limit: usize) -> Self {
        Self {
            framing,
            limit,
            buffer: BytesMut::new(),
            index: 0,
            state: ArrayState::Open,
            depth: 0,
            in_string: false,
            escaped: false,
            scanned: 0,
        }
    }

    /// Takes more of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next whole message in what was pushed, if there is one.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, SplitError> {
        match self.framing {
            RequestFraming::Ndjson => self.next_line(),
            RequestFraming::JsonArray => self.next_element(),
        }
    }

    /// What is left when the body ended: a last line without its line
    /// break, or an error when a message or the array is unfinished.
    pub fn finish(&mut self) -> Result<Option<Bytes>, SplitError> {
        match self.framing {
            RequestFraming::Ndjson => {
                let rest = self.buffer.split().freeze();
                Ok(self.counted(rest))
            }
            RequestFraming::JsonArray => match self.state {
                ArrayState::Closed => Ok(None),
                ArrayState::Open if self.buffer.iter().all(u8::is_ascii_whitespace) && self.index == 0 => {
                    Ok(None)
                }
                _ => Err(SplitError::Truncated(self.index)),
            },
        }
    }

    fn next_line(&mut self) -> Result<Option<Bytes>, SplitError> {
        loop {
            let Some(end) = self.buffer[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = self.buffer.len();
                if self.buffer.len() > self.limit {
                    return Err(SplitError::TooLarge(self.index, self.limit));
                }
                return Ok(None);
            };
            let end = self.scanned + end;
            self.scanned = 0;
            if end > self.limit {
                return Err(SplitError::TooLarge(self.index, self.limit));
            }
            let line = self.buffer.split_to(end + 1).freeze().slice(..end);
            if let Some(message) = self.counted(line) {
                return Ok(Some(message));
            }
        }
    }

    /// A non-blank message, counted.
    fn counted(&mut self, message: Bytes) -> Option<Bytes> {
        if message.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        self.index += 1;
        Some(message)
    }

    fn next_element(&mut self) -> Result<Option<Bytes>, SplitError> {
        loop {
            // Between elements: skip whitespace, read `[`, `,`, `]`.
            if self.state != ArrayState::Element || self.scanned == 0 {
                let blank = self.buffer.iter().take_while(|b| b.is_ascii_whitespace()).count();
                self.buffer.advance(blank);
                let Some(&byte) = self.buffer.first() else { return Ok(None) };
                let (next, take) = match (self.state, byte) {
                    (ArrayState::Open, b'[') => (ArrayState::Element, true),
                    (ArrayState::Open, _) => {
                        return Err(SplitError::Syntax(0, "the body is not a JSON array"));
                    }
                    (ArrayState::Element, b']') if self.index == 0 => (ArrayState::Closed, true),
                    (ArrayState::Element, b',' | b']') => {
                        return Err(SplitError::Syntax(self.index, "an element is missing"));
                    }
                    (ArrayState::Element, _) => (ArrayState::Element, false),
                    (ArrayState::Separator, b',') => (ArrayState::Element, true),
                    (ArrayState::Separator, b']') => (ArrayState::Closed, true),
                    (ArrayState::Separator, _) => {
                        return Err(SplitError::Syntax(self.index, "expected `,` or `]` after an element"));
                    }
                    (ArrayState::Closed, _) => {
                        return Err(SplitError::Syntax(self.index, "bytes after the array's `]`"));
                    }
                };
                self.state = next;
                if take {
                    self.buffer.advance(1);
                    continue;
                }
            }
            // Inside an element: find where it ends.
            match self.element_end() {
                Some(end) => {
                    let element = self.buffer.split_to(end).freeze();
                    self.scanned = 0;
                    self.state = ArrayState::Separator;
                    self.index += 1;
                    return Ok(Some(element));
                }
                None if self.buffer.len() > self.limit => {
                    return Err(SplitError::TooLarge(self.index, self.limit));
                }
                None => return Ok(None),
            }
        }
    }

    /// The length of the element at the buffer's start, once its end (a
    /// `,` or `]` outside strings at depth 0) has arrived.
    fn element_end(&mut self) -> Option<usize> {
        while self.scanned < self.buffer.len() {
            let byte = self.buffer[self.scanned];
            if self.in_string {
                match (self.escaped, byte) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
            } else {
                match byte {
                    b'"' => self.in_string = true,
                    b'[' | b'{' => self.depth += 1,
                    b']' | b'}' if self.depth > 0 => self.depth -= 1,
                    b',' | b']' if self.depth == 0 => return Some(self.scanned),
                    _ => {}
                }
            }
            self.scanned += 1;
            if self.scanned > self.limit {
                return None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message of `body` pushed in chunks of `size` bytes.
    fn split(framing: RequestFraming, body: &str, size: usize) -> Result<Vec<String>, SplitError> {
        let mut splitter = Splitter::new(framing, 64);
        let mut out = Vec::new();
        for chunk in body.as_bytes().chunks(size) {
            splitter.push(chunk);
            while let Some(message) = splitter.next_message()? {
                out.push(String::from_utf8(message.to_vec()).unwrap());
            }
        }
        if let Some(message) = splitter.finish()? {
            out.push(String::from_utf8(message.to_vec()).unwrap());
        }
        Ok(out)
    }

    #[test]
    fn ndjson_lines_in_any_chunks() {
        for size in [1, 3, 100] {
            let body = "{\"a\":1}\n\n  \n{\"b\":\"x\\ny\"}\r\n{\"c\":3}";
            let got = split(RequestFraming::Ndjson, body, size).unwrap();
            assert_eq!(got, ["{\"a\":1}", "{\"b\":\"x\\ny\"}\r", "{\"c\":3}"], "{size}");
        }
    }

    #[test]
    fn array_elements_in_any_chunks() {
        for size in [1, 2, 7, 100] {
            let body = " [ {\"a\":[1,2]} , {\"b\":\"],\\\"\"},{}\n] ";
            let got = split(RequestFraming::JsonArray, body, size).unwrap();
            assert_eq!(got, ["{\"a\":[1,2]} ", "{\"b\":\"],\\\"\"}", "{}\n"], "{size}");
        }
        assert_eq!(split(RequestFraming::JsonArray, "[]", 1).unwrap(), Vec::<String>::new());
        assert_eq!(split(RequestFraming::JsonArray, "", 1).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn broken_arrays_name_the_message() {
        let error = |body| split(RequestFraming::JsonArray, body, 1).unwrap_err();
        assert_eq!(error("{}"), SplitError::Syntax(0, "the body is not a JSON array"));
        assert_eq!(error("[{},,{}]"), SplitError::Syntax(1, "an element is missing"));
        // Two values without a comma are one element, which binding refuses.
        assert_eq!(split(RequestFraming::JsonArray, "[{} {}]", 1).unwrap(), ["{} {}"]);
        assert_eq!(error("[{}] x"), SplitError::Syntax(1, "bytes after the array's `]`"));
        assert_eq!(error("[{},{"), SplitError::Truncated(1));
    }

    #[test]
    fn a_message_past_the_limit_is_refused_before_it_ends() {
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(100));
        let mut splitter = Splitter::new(RequestFraming::Ndjson, 64);
        splitter.push(b"{}\n");
        assert!(splitter.next_message().unwrap().is_some());
        splitter.push(&long.as_bytes()[..70]);
        assert_eq!(splitter.next_message(), Err(SplitError::TooLarge(1, 64)));
        let mut splitter = Splitter::new(RequestFraming::JsonArray, 64);
        splitter.push(b"[");
        splitter.push(&long.as_bytes()[..70]);
        assert_eq!(splitter.next_message(), Err(SplitError::TooLarge(0, 64)));
    }
}
