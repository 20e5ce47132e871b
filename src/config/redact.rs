//! A config as operators may see it (the admin API's `/config`): the YAML
//! as JSON, with every secret replaced by `"<redacted>"`. Secrets are found
//! by key, so keys added later are covered too: `sha256` (API key hashes)
//! and any key naming a secret, password or token, except the `*_file` and
//! `*_env` keys, which hold a path or a variable's name, never the secret.
//! Only text and numbers are redacted: `forward_token: true` stays.

use serde_json::Value;

use super::{ConfigError, parse_error};

/// What a redacted value reads.
pub const REDACTED: &str = "<redacted>";

/// The YAML `text` (from `origin`) as JSON, its secrets redacted.
pub fn redacted(text: &str, origin: &str) -> Result<Value, ConfigError> {
    let mut value: Value = serde_saphyr::from_str(text).map_err(|error| parse_error(&error, origin))?;
    redact(&mut value);
    Ok(value)
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if is_secret(key) && (value.is_string() || value.is_number()) {
                    *value = Value::String(REDACTED.to_owned());
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let names_a_secret = ["secret", "password", "token", "sha256"].iter().any(|word| key.contains(word));
    names_a_secret && !key.ends_with("_file") && !key.ends_with("_env")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_paths_and_names_kept() {
        let yaml = r#"
policies:
  keys: { api_key: { keys: [{ consumer: ci, sha256: "ab12" }] } }
  hs: { jwt: { secret_file: /run/secret, secret_env: JWT_SECRET, issuer: me } }
  rl: { rate_limit: { redis: { url: "redis://r", password_file: /run/pw, password: oops } } }
admin: { token: inline, token_file: /run/token }
jwt_like: { forward_token: true }
"#;
        let value = redacted(yaml, "t").unwrap();
        let policies = &value["policies"];
        assert_eq!(policies["keys"]["api_key"]["keys"][0]["sha256"], REDACTED);
        assert_eq!(policies["keys"]["api_key"]["keys"][0]["consumer"], "ci");
        assert_eq!(policies["hs"]["jwt"]["secret_file"], "/run/secret");
        assert_eq!(policies["hs"]["jwt"]["secret_env"], "JWT_SECRET");
        assert_eq!(policies["rl"]["rate_limit"]["redis"]["password_file"], "/run/pw");
        assert_eq!(policies["rl"]["rate_limit"]["redis"]["password"], REDACTED);
        assert_eq!(value["admin"]["token"], REDACTED);
        assert_eq!(value["admin"]["token_file"], "/run/token");
        assert_eq!(value["jwt_like"]["forward_token"], true);
        assert!(!value.to_string().contains("ab12") && !value.to_string().contains("oops"));
    }
}
