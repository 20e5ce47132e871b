//! The request's path and query as the access log writes them: the value
//! of every query parameter that carries a credential replaced by
//! `REDACTED` (the usual names, and those the config's policies read keys
//! and tokens from).

use std::borrow::Cow;

/// Parameter names whose values are credentials, compared without case.
const CREDENTIALS: [&str; 11] = [
    "access_token",
    "api_key",
    "apikey",
    "key",
    "token",
    "id_token",
    "password",
    "secret",
    "client_secret",
    "signature",
    "sig",
];

/// Parts of a name that make it a credential (`refresh_token`, `x-api-key`).
const CREDENTIAL_PARTS: [&str; 5] = ["token", "secret", "password", "passwd", "apikey"];

/// What replaces a credential.
const REDACTED: &str = "REDACTED";

/// `path` with `query`, every credential's value redacted; `extra` lists
/// more names that hold credentials.
pub(super) fn path_and_query<'a>(path: &'a str, query: Option<&str>, extra: &[String]) -> Cow<'a, str> {
    let Some(query) = query else { return Cow::Borrowed(path) };
    let mut text = String::with_capacity(path.len() + 1 + query.len());
    text.push_str(path);
    text.push('?');
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            text.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if is_credential(name, extra) => {
                text.push_str(name);
                text.push('=');
                text.push_str(REDACTED);
            }
            _ => text.push_str(pair),
        }
    }
    Cow::Owned(text)
}

fn is_credential(name: &str, extra: &[String]) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy().to_ascii_lowercase();
    let squeezed: String = decoded.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    CREDENTIALS.contains(&decoded.as_str())
        || CREDENTIAL_PARTS.iter().any(|part| squeezed.contains(part))
        || extra.iter().any(|name| name.eq_ignore_ascii_case(&decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        let extra = vec!["partner_code".to_owned()];
        let cases = [
            (None, "/v1/x"),
            (Some("a=1&b=2"), "/v1/x?a=1&b=2"),
            (Some("api_key=s3cr3t&page=2"), "/v1/x?api_key=REDACTED&page=2"),
            (Some("Access_Token=abc"), "/v1/x?Access_Token=REDACTED"),
            (Some("refresh%5Ftoken=abc&x-api-key=k"), "/v1/x?refresh%5Ftoken=REDACTED&x-api-key=REDACTED"),
            (Some("partner_code=p&flag"), "/v1/x?partner_code=REDACTED&flag"),
            (Some("q=token"), "/v1/x?q=token"),
        ];
        for (query, logged) in cases {
            assert_eq!(path_and_query("/v1/x", query, &extra), logged, "{query:?}");
        }
    }
}
