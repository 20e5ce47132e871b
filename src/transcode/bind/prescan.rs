//! A cheap look at a JSON body's bytes before any message is built: it must
//! be UTF-8 (serde_json does not check the strings of fields it skips) and
//! nest no deeper than the limit (serde_json's own recursion limit is 128,
//! does not bound skipped values, and its error text is not the gateway's).
//!
//! One pass over the bytes, counting `[` and `{` outside strings (escapes
//! respected); it does not check the JSON otherwise (parsing does).

use super::InputLimits;
use super::error::BindError;

/// Refuses a body that is not UTF-8 or nests deeper than `limits.max_json_depth`.
pub(super) fn check(body: &[u8], limits: &InputLimits) -> Result<(), BindError> {
    if let Err(error) = std::str::from_utf8(body) {
        return Err(BindError::new(format!(
            "invalid JSON body: not valid UTF-8 (at byte {})",
            error.valid_up_to()
        )));
    }
    let max = limits.max_json_depth;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in body {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(BindError::new(format!(
                        "invalid JSON body: nested deeper than {max} levels (limits.max_json_depth)"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_json_depth: usize) -> InputLimits {
        InputLimits { max_json_depth, ..InputLimits::default() }
    }

    #[test]
    fn counts_nesting_outside_strings() {
        assert!(check(b"{\"a\":[[1]]}", &limits(3)).is_ok());
        let error = check(b"{\"a\":[[[1]]]}", &limits(3)).unwrap_err();
        assert_eq!(error.message, "invalid JSON body: nested deeper than 3 levels (limits.max_json_depth)");
        assert!(check(b"[][][][]", &limits(1)).is_ok());
        assert!(check(br#"{"a":"[[[[{{{{"}"#, &limits(1)).is_ok());
        assert!(check(br#"{"a":"\"[[[[\\"}"#, &limits(1)).is_ok());
        assert!(check(br#"{"a":"\\",  "b":[[]]}"#, &limits(2)).is_err());
    }

    #[test]
    fn refuses_invalid_utf8() {
        let error = check(b"{\"a\":\"\xff\"}", &limits(8)).unwrap_err();
        assert_eq!(error.message, "invalid JSON body: not valid UTF-8 (at byte 6)");
        assert!(check("{\"a\":\"café\"}".as_bytes(), &limits(8)).is_ok());
    }
}
