//! Where a credential travels: taking it from the request (and out of the
//! request when it must not go on), and removing client headers under the
//! names a policy sets itself.

use http::{HeaderMap, HeaderName, HeaderValue, Uri, header, request::Parts, uri::PathAndQuery};
use percent_encoding::percent_decode_str;

const METADATA_PREFIX: &str = "grpc-metadata-";

/// Where a credential is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A header holding the bare credential.
    Header(HeaderName),
    /// A query parameter; always removed from the URI once read.
    Query(String),
    /// A cookie.
    Cookie(String),
}

impl CredentialSource {
    /// Where the credential is expected, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Bearer => "a bearer token in the Authorization header".to_owned(),
            Self::Header(name) => format!("the {name} header"),
            Self::Query(name) => format!("the {name} query parameter"),
            Self::Cookie(name) => format!("the {name} cookie"),
        }
    }

    /// Takes the credential from `parts`; `None` when the request has none.
    /// The credential is removed from the request when `remove` (always
    /// when it came from the query string). `Err` says what is malformed
    /// (without echoing the credential).
    pub(super) fn take(&self, parts: &mut Parts, remove: bool) -> Result<Option<String>, String> {
        match self {
            Self::Bearer => {
                let Some(value) = single_header(&parts.headers, &header::AUTHORIZATION)? else {
                    return Ok(None);
                };
                let token = match value.split_once(' ') {
                    Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
                    _ => return Ok(None),
                };
                if token.is_empty() {
                    return Err("the bearer token is empty".to_owned());
                }
                let token = token.to_owned();
                if remove {
                    parts.headers.remove(header::AUTHORIZATION);
                }
                Ok(Some(token))
            }
            Self::Header(name) => {
                let Some(value) = single_header(&parts.headers, name)? else { return Ok(None) };
                let value = value.trim().to_owned();
                if value.is_empty() {
                    return Err(format!("the {name} header is empty"));
                }
                if remove {
                    parts.headers.remove(name);
                }
                Ok(Some(value))
            }
            Self::Query(name) => take_query(parts, name),
            Self::Cookie(name) => take_cookie(&mut parts.headers, name, remove),
        }
    }
}

fn single_header(headers: &HeaderMap, name: &HeaderName) -> Result<Option<String>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(format!("more than one {name} header"));
    }
    value.to_str().map(|text| Some(text.to_owned())).map_err(|_| format!("the {name} header is not text"))
}

/// The parameter's value, and the URI without it. A `+` is taken as it is
/// (credentials are not form text); percent-escapes are decoded.
fn take_query(parts: &mut Parts, name: &str) -> Result<Option<String>, String> {
    let Some(query) = parts.uri.query() else { return Ok(None) };
    let mut found = Vec::new();
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode_str(key).decode_utf8().is_ok_and(|key| key == name) {
            found.push(value);
        } else if !pair.is_empty() {
            kept.push(pair);
        }
    }
    let value = match found.as_slice() {
        [] => return Ok(None),
        [value] => percent_decode_str(value)
            .decode_utf8()
            .map(|value| value.into_owned())
            .map_err(|_| format!("the {name} query parameter is not UTF-8")),
        _ => Err(format!("more than one {name} query parameter")),
    };
    let path = parts.uri.path();
    let path_and_query = if kept.is_empty() { path.to_owned() } else { format!("{path}?{}", kept.join("&")) };
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    uri.path_and_query = Some(
        PathAndQuery::try_from(path_and_query).map_err(|_| "the request URI cannot be rebuilt".to_owned())?,
    );
    parts.uri = Uri::from_parts(uri).map_err(|_| "the request URI cannot be rebuilt".to_owned())?;
    let value = value?;
    if value.is_empty() {
        return Err(format!("the {name} query parameter is empty"));
    }
    Ok(Some(value))
}

fn take_cookie(headers: &mut HeaderMap, name: &str, remove: bool) -> Result<Option<String>, String> {
    let mut found = Vec::new();
    let mut rebuilt = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        let text = value.to_str().map_err(|_| "the Cookie header is not text".to_owned())?;
        let mut kept = Vec::new();
        for cookie in text.split(';').map(str::trim).filter(|cookie| !cookie.is_empty()) {
            match cookie.split_once('=') {
                Some((key, value)) if key.trim() == name => {
                    found.push(value.trim().trim_matches('"').to_owned())
                }
                _ => kept.push(cookie),
            }
        }
        rebuilt.push(kept.join("; "));
    }
    let value = match found.len() {
        0 => return Ok(None),
        1 => found.swap_remove(0),
        _ => return Err(format!("more than one {name} cookie")),
    };
    if remove {
        headers.remove(header::COOKIE);
        for text in rebuilt.into_iter().filter(|text| !text.is_empty()) {
            // Built from parts of valid header values: always valid.
            if let Ok(value) = HeaderValue::from_str(&text) {
                headers.append(header::COOKIE, value);
            }
        }
    }
    if value.is_empty() {
        return Err(format!("the {name} cookie is empty"));
    }
    Ok(Some(value))
}

/// Every header a client must not send because a policy sets it: each
/// name, and its `grpc-metadata-` twin.
pub(super) fn spoofable(names: &[HeaderName]) -> Vec<HeaderName> {
    let mut all = Vec::with_capacity(names.len() * 2);
    for name in names {
        all.push(name.clone());
        if let Ok(twin) = HeaderName::try_from(format!("{METADATA_PREFIX}{}", name.as_str())) {
            all.push(twin);
        }
    }
    all
}

/// Removes the headers of [`spoofable`] from what the client sent.
pub(super) fn remove_all(headers: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        headers.remove(name);
    }
}
