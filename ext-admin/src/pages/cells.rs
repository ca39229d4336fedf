//! How a value shows in a list or on a detail page: text, a cell with
//! its class, clipped to fit.

use phial_orm::meta::{FieldKind, FieldMeta};
use serde_json::{Value as Json, json};

/// A JSON value as plain text.
pub(crate) fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// A value as a list cell shows it.
pub(crate) fn cell(field: &FieldMeta, v: &Json) -> Json {
    let (text, class) = match (field.kind, v) {
        (_, Json::Null) => ("—".to_owned(), "null"),
        (FieldKind::Boolean, Json::Bool(b)) => (
            if *b { "Yes" } else { "No" }.to_owned(),
            if *b { "yes" } else { "no" },
        ),
        (FieldKind::DateTime | FieldKind::DateTimeTz, Json::String(s)) => {
            let t = s.replace('T', " ");
            let short: String = t.chars().take(16).collect();
            let zone = if field.kind == FieldKind::DateTimeTz {
                " UTC"
            } else {
                ""
            };
            (format!("{short}{zone}"), "time")
        }
        (FieldKind::Integer | FieldKind::Number, _) => (text_of(v), "num"),
        (FieldKind::Json, other) => (clip(&other.to_string(), 80), "code"),
        (_, other) => (clip(&text_of(other), 80), ""),
    };
    json!({"text": text, "class": class})
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}
