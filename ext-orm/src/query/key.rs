//! A row's key in a URL, one form on every surface: the key's value
//! (`7`, `ada`) or, for a composite key, its parts in key order joined by
//! commas (`7,2`). REST (`/api/posts/7,2`) and the admin
//! (`/admin/post/7,2/`) read and write this form; the admin's first form (a
//! JSON array, `[7,2]`) is still read, so old links and log entries work.

use serde_json::Value as Json;

use crate::meta::{FieldKind, ModelMeta};

/// The key as it appears in a URL (before percent-encoding).
///
/// ```
/// use phial_orm::query::key;
/// assert_eq!(key::text(&serde_json::json!(7)), "7");
/// assert_eq!(key::text(&serde_json::json!([7, "b"])), "7,b");
/// ```
pub fn text(key: &Json) -> String {
    match key {
        Json::Array(values) => values.iter().map(text).collect::<Vec<_>>().join(","),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The key `text` names (percent-decoded), each part typed by its field:
/// a scalar for a one-column key, an array for a composite one; `None`
/// when it cannot be one (a part missing, a number that is not one). A
/// JSON array (the admin's first form) is read too.
pub fn parse(meta: &ModelMeta, text: &str) -> Option<Json> {
    let n = meta.primary_key.len();
    if n > 1
        && text.starts_with('[')
        && let Ok(Json::Array(parts)) = serde_json::from_str::<Json>(text)
    {
        return (parts.len() == n).then_some(Json::Array(parts));
    }
    let raw: Vec<&str> = if n == 1 {
        vec![text]
    } else {
        text.split(',').collect()
    };
    if raw.len() != n {
        return None;
    }
    let mut parts = Vec::with_capacity(n);
    for (name, raw) in meta.primary_key.iter().zip(raw) {
        let field = meta.field(name)?;
        parts.push(match field.kind {
            FieldKind::Integer => Json::from(raw.parse::<i64>().ok()?),
            _ => Json::String(raw.to_owned()),
        });
    }
    Some(if n == 1 {
        parts.pop()?
    } else {
        Json::Array(parts)
    })
}

/// Whether `text` is written in the one form (`007` is `7`; `[7,2]` is
/// `7,2`): a surface redirects a URL whose key is not.
pub fn is_canonical(meta: &ModelMeta, text_given: &str) -> bool {
    parse(meta, text_given).is_none_or(|k| text(&k) == text_given)
}
