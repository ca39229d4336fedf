//! The audit log: each write made through the admin, with who made it and
//! a field-level diff, in the same transaction as the write (a write
//! without its entry never commits).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};
use serde_json::{Map, Value as Json};

use crate::log;
use crate::model::{Row, json_key};
use crate::view::ViewSpec;

/// Who made a write.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub(crate) id: Option<i32>,
    pub(crate) username: String,
}

/// `{"field": [before, after]}` for every field that differs (a missing
/// side is null).
pub(crate) fn diff(before: &Row, after: &Row) -> Map<String, Json> {
    let mut out = Map::new();
    let names = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for name in names {
        let b = before.get(name).cloned().unwrap_or(Json::Null);
        let a = after.get(name).cloned().unwrap_or(Json::Null);
        if b != a {
            out.insert(name.clone(), Json::Array(vec![b, a]));
        }
    }
    out
}

/// A row's name for people: its title field, else `<model> <key>`.
pub(crate) fn label_of(spec: &ViewSpec, row: &Row) -> String {
    if let Some(t) = &spec.title_field
        && let Some(v) = row.get(t)
    {
        let text = match v {
            Json::String(s) => s.clone(),
            Json::Null => String::new(),
            other => other.to_string(),
        };
        if !text.trim().is_empty() {
            return text;
        }
    }
    format!("{} {}", spec.singular, key_text(&json_key(&spec.meta, row)))
}

/// A key as text: `12`, `abc`, `1,2` for composite keys.
pub(crate) fn key_text(key: &Json) -> String {
    match key {
        Json::String(s) => s.clone(),
        Json::Array(parts) => parts.iter().map(key_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Writes one entry for a change of `row` from `before` to `after`.
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    who: &Who,
    spec: &ViewSpec,
    row: &Row,
    action: &str,
    before: &Row,
    after: &Row,
) -> Result<i64, DbErr> {
    let changes = diff(before, after);
    let key = json_key(&spec.meta, row);
    let entry = log::ActiveModel {
        at: Set(Utc::now()),
        user_id: Set(who.id),
        username: Set(clip(&who.username, 150)),
        table_name: Set(clip(&spec.meta.table, 100)),
        object_key: Set(clip(&key.to_string(), 200)),
        object_label: Set(clip(&label_of(spec, row), 200)),
        action: Set(clip(action, 40)),
        changes: Set(Json::Object(changes).to_string()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(entry.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_diff_holds_only_what_changed() {
        let before = json!({"id": 1, "title": "a", "published": false});
        let after = json!({"id": 1, "title": "b", "published": false});
        let d = diff(before.as_object().unwrap(), after.as_object().unwrap());
        assert_eq!(Json::Object(d), json!({"title": ["a", "b"]}));
        let d = diff(&Row::new(), after.as_object().unwrap());
        assert_eq!(d.len(), 3, "a created row shows every field");
    }
}
