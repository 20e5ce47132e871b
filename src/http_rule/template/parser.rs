//! The recursive-descent parser behind [`PathTemplate::parse`]: one pass
//! over the bytes of the template, every error a byte offset and a reason.

use super::{PathTemplate, Segment, TemplateError, Variable};

pub(super) fn parse(text: &str) -> Result<PathTemplate, TemplateError> {
    Parser { text, pos: 0, segments: Vec::new(), variables: Vec::new(), after_multi: false }.template()
}

/// A recursive-descent parser over the bytes of the template; every
/// position it reports is a byte offset into the text.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    /// Whether a `**` has been seen: from then on only literals may follow.
    after_multi: bool,
}

impl<'a> Parser<'a> {
    fn template(mut self) -> Result<PathTemplate, TemplateError> {
        match self.peek() {
            None => return Err(self.error(0, "empty template")),
            Some(b'/') => self.pos = 1,
            Some(_) => return Err(self.error(0, "no leading slash")),
        }
        let mut verb = None;
        if self.text.len() > 1 {
            loop {
                self.segment(false)?;
                match self.peek() {
                    None => break,
                    Some(b'/') if self.pos + 1 == self.text.len() => {
                        return Err(self.error(self.pos, "trailing slash"));
                    }
                    Some(b'/') => self.pos += 1,
                    Some(b':') => {
                        verb = Some(self.verb()?);
                        break;
                    }
                    Some(_) => return Err(self.error(self.pos, "unmatched '}'")),
                }
            }
        }
        Ok(PathTemplate {
            text: self.text.to_owned(),
            segments: self.segments,
            verb,
            variables: self.variables,
        })
    }

    /// One segment; leaves `pos` on the byte after it, which is the end,
    /// `/`, `:` or `}` (the caller decides which of these it accepts).
    fn segment(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        let start = self.pos;
        match self.peek() {
            None | Some(b'/') => Err(self.error(start, "empty segment")),
            Some(b':') => Err(self.error(start, "a verb needs a segment before it")),
            Some(b'}') if in_variable => Err(self.error(start, "empty segment")),
            Some(b'}') => Err(self.error(start, "unmatched '}'")),
            Some(b'{') if in_variable => Err(self.error(start, "nested variable")),
            Some(b'{') => self.variable(),
            Some(b'*') => {
                let segment = if self.text.as_bytes().get(start + 1) == Some(&b'*') {
                    self.pos += 2;
                    Segment::Multi
                } else {
                    self.pos += 1;
                    Segment::Single
                };
                if !matches!(self.peek(), None | Some(b'/' | b':' | b'}')) {
                    return Err(self.error(self.pos, "'*' and '**' must be whole segments"));
                }
                self.push(start, segment)
            }
            Some(_) => {
                let literal = self.literal(in_variable)?;
                if is_dot_segment(literal) {
                    return Err(self.error(start, "'.' and '..' segments never match: requests resolve them"));
                }
                self.push(start, Segment::Literal(literal.to_owned()))
            }
        }
    }

    fn push(&mut self, position: usize, segment: Segment) -> Result<(), TemplateError> {
        if self.after_multi && !matches!(segment, Segment::Literal(_)) {
            return Err(self.error(position, "only literals may follow '**'"));
        }
        self.after_multi |= segment == Segment::Multi;
        self.segments.push(segment);
        Ok(())
    }

    /// The characters of a literal, up to (not including) `/`, `:`, `}` or the end.
    fn literal(&mut self, in_variable: bool) -> Result<&'a str, TemplateError> {
        let start = self.pos;
        while let Some(byte) = self.peek() {
            match byte {
                b'/' | b':' | b'}' => break,
                b'{' if in_variable => return Err(self.error(self.pos, "nested variable")),
                b'{' => return Err(self.error(self.pos, "a variable must be a whole segment")),
                b'*' => return Err(self.error(self.pos, "'*' and '**' must be whole segments")),
                b'?' | b'#' => return Err(self.error(self.pos, "'?' and '#' cannot appear in a path")),
                b'%' => {
                    let bytes = self.text.as_bytes();
                    let hex = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
                    if !(hex(self.pos + 1) && hex(self.pos + 2)) {
                        return Err(self.error(self.pos, "invalid percent-encoding"));
                    }
                    self.pos += 3;
                }
                byte if byte <= b' ' || byte == 0x7f => {
                    return Err(self.error(self.pos, "spaces and control characters are not allowed"));
                }
                _ => self.pos += 1,
            }
        }
        // `start` and `pos` sit on ASCII bytes or the end: both are char boundaries.
        Ok(&self.text[start..self.pos])
    }

    fn variable(&mut self) -> Result<(), TemplateError> {
        let open = self.pos;
        self.pos += 1;
        match self.peek() {
            None => return Err(self.error(open, "unterminated variable")),
            Some(b'}') => return Err(self.error(open, "empty variable")),
            Some(_) => {}
        }
        let mut field_path = Vec::new();
        loop {
            let ident_start = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
                self.pos += 1;
            }
            let ident = &self.text[ident_start..self.pos];
            match ident.as_bytes().first() {
                None if self.peek().is_none() => return Err(self.error(open, "unterminated variable")),
                None => return Err(self.error(ident_start, "expected a field name")),
                Some(first) if first.is_ascii_digit() => {
                    return Err(self.error(ident_start, "a field name cannot start with a digit"));
                }
                Some(_) => field_path.push(ident.to_owned()),
            }
            if self.peek() != Some(b'.') {
                break;
            }
            self.pos += 1;
        }
        if self.variables.iter().any(|v| v.field_path == field_path) {
            let reason = format!("field path '{}' is bound twice", field_path.join("."));
            return Err(self.error(open, reason));
        }
        let start = self.segments.len();
        match self.peek() {
            None => return Err(self.error(open, "unterminated variable")),
            Some(b'}') => {
                self.pos += 1;
                self.push(open, Segment::Single)?;
            }
            Some(b'=') => {
                self.pos += 1;
                loop {
                    if self.peek().is_none() {
                        return Err(self.error(open, "unterminated variable"));
                    }
                    self.segment(true)?;
                    match self.peek() {
                        None => return Err(self.error(open, "unterminated variable")),
                        Some(b'/') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => return Err(self.error(self.pos, "a verb may only end the template")),
                    }
                }
            }
            Some(_) => return Err(self.error(self.pos, "invalid character in field path")),
        }
        match self.peek() {
            None | Some(b'/' | b':') => {}
            Some(b'}') => return Err(self.error(self.pos, "unmatched '}'")),
            Some(_) => return Err(self.error(self.pos, "a variable must be a whole segment")),
        }
        self.variables.push(Variable { field_path, start, end: self.segments.len() });
        Ok(())
    }

    /// The verb: `pos` is on its `:`; it runs to the end of the template.
    fn verb(&mut self) -> Result<String, TemplateError> {
        let colon = self.pos;
        self.pos += 1;
        let verb = self.literal(false)?.to_owned();
        if verb.is_empty() && self.peek().is_none() {
            return Err(self.error(colon, "empty verb"));
        }
        if self.peek().is_some() {
            return Err(self.error(self.pos, "the verb must end the template"));
        }
        Ok(verb)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn error(&self, position: usize, reason: impl Into<String>) -> TemplateError {
        TemplateError { template: self.text.to_owned(), position, reason: reason.into() }
    }
}

/// Whether a literal is `.` or `..`, its dots written plainly or as `%2E`.
fn is_dot_segment(literal: &str) -> bool {
    let mut rest = literal;
    let mut dots = 0;
    while !rest.is_empty() {
        rest = match rest.strip_prefix('.') {
            Some(tail) => tail,
            None => match rest.get(..3) {
                Some(triplet) if triplet.eq_ignore_ascii_case("%2e") => &rest[3..],
                _ => return false,
            },
        };
        dots += 1;
    }
    (1..=2).contains(&dots)
}
