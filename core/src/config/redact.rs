//! Hides secrets when the configuration is printed (`config` command, debug
//! pages): keys that name a secret, and passwords inside URLs.

use serde_json::Value;

const SECRET_WORDS: [&str; 5] = ["secret", "password", "token", "private", "credential"];

/// Placeholder shown instead of a secret.
pub const REDACTED: &str = "***";

/// Whether a config key names a secret (`secret_key`, `database.password`...).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// Replaces the password of a URL such as `postgres://user:pw@host/db`.
pub fn redact_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_owned();
    };
    let rest = &s[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return s.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return s.to_owned();
    };
    format!(
        "{}://{}:{REDACTED}{}",
        &s[..scheme_end],
        &userinfo[..colon],
        &rest[at..]
    )
}

/// Whether a value holds nothing to hide.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Redacts a whole configuration tree in place.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !is_empty(v) && !matches!(v, Value::Bool(_)) {
                    *v = match v {
                        // A list of secrets shows how many there are.
                        Value::Array(items) => Value::Array(
                            items
                                .iter()
                                .map(|_| Value::String(REDACTED.to_owned()))
                                .collect(),
                        ),
                        _ => Value::String(REDACTED.to_owned()),
                    };
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(s) => *s = redact_url(s),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_secret_keys_and_url_passwords() {
        let mut v = serde_json::json!({
            "secret_key": "abc",
            "secret_key_fallbacks": ["old"],
            "database": {"url": "postgres://bob:hunter2@db:5432/app", "pool_max": 5},
            "name": "x",
        });
        redact(&mut v);
        assert_eq!(v["secret_key"], REDACTED);
        assert_eq!(v["secret_key_fallbacks"], serde_json::json!([REDACTED]));
        let mut none = serde_json::json!({"secret_key_fallbacks": []});
        redact(&mut none);
        assert_eq!(none["secret_key_fallbacks"], serde_json::json!([]));
        assert_eq!(v["database"]["url"], "postgres://bob:***@db:5432/app");
        assert_eq!(v["database"]["pool_max"], 5);
        assert_eq!(v["name"], "x");
    }

    #[test]
    fn urls_without_password_are_kept() {
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("sqlite://instance/app.sqlite"),
            "sqlite://instance/app.sqlite"
        );
        assert_eq!(redact_url("redis://user@h/0"), "redis://user@h/0");
    }
}
