//! The audit log: each write made through the admin, with who made it and
//! a field-level diff of the whole row (the columns it never shows kept
//! apart), in the same transaction as the write (a write without its
//! entry never commits); and the staff events (users, roles, grants,
//! passwords, sign-outs everywhere).

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

/// One entry to write (see [`write`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Entry {
    /// The table the row is in.
    pub(crate) table: String,
    /// The row's key.
    pub(crate) key: Json,
    /// How the row is named.
    pub(crate) label: String,
    /// `create`, `change`, `delete`, `restore`, `revert`, a bulk action's
    /// name, or a staff event (`password`, `sign_out_everywhere`, `grant`).
    pub(crate) action: String,
    /// `{"field": [before, after]}` of what may be shown.
    pub(crate) changes: Map<String, Json>,
    /// The same for columns never shown.
    pub(crate) hidden: Map<String, Json>,
    /// The entry whose delete took this row with it.
    pub(crate) cascade_of: Option<i64>,
}

/// Writes `entry` by `who`; returns its id. Called on the write's own
/// connection (its transaction), so neither commits without the other.
pub(crate) async fn write<C: ConnectionTrait>(
    conn: &C,
    who: &Who,
    entry: Entry,
) -> Result<i64, DbErr> {
    let saved = log::ActiveModel {
        at: Set(Utc::now()),
        user_id: Set(who.id),
        username: Set(clip(&who.username, 150)),
        table_name: Set(clip(&entry.table, 100)),
        object_key: Set(clip(&entry.key.to_string(), 200)),
        object_label: Set(clip(&entry.label, 200)),
        action: Set(clip(&entry.action, 40)),
        changes: Set(Json::Object(entry.changes).to_string()),
        cascade_of: Set(entry.cascade_of),
        hidden_changes: Set(
            (!entry.hidden.is_empty()).then(|| Json::Object(entry.hidden).to_string())
        ),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(saved.id)
}

/// Writes the entry for a change of one row of `spec`'s model from
/// `before` to `after` (whole rows, hidden columns too: an empty map for
/// the side that does not exist). Hidden columns go apart, never shown.
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    who: &Who,
    spec: &ViewSpec,
    action: &str,
    before: &Row,
    after: &Row,
    cascade_of: Option<i64>,
) -> Result<i64, DbErr> {
    let all = diff(before, after);
    let (mut changes, mut hidden) = (Map::new(), Map::new());
    for (name, pair) in all {
        if spec.meta.field(&name).is_some_and(|f| f.hidden) {
            hidden.insert(name, pair);
        } else {
            changes.insert(name, pair);
        }
    }
    let row = if after.is_empty() { before } else { after };
    let shown: Row = row
        .iter()
        .filter(|(k, _)| spec.meta.field(k).is_some_and(|f| !f.hidden))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    write(
        conn,
        who,
        Entry {
            table: spec.meta.table.clone(),
            key: json_key(&spec.meta, row),
            label: label_of(spec, &shown),
            action: action.to_owned(),
            changes,
            hidden,
            cascade_of,
        },
    )
    .await
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
