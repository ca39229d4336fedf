//! A row's key in a URL (`/api/posts/7`; a composite key is
//! comma-separated, in key order): read, written in one spelling, and
//! turned into the condition that finds the row.

use http::request::Parts;
use phial_orm::Db;
use phial_orm::meta::json;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use serde_json::Value as Json;

use crate::problem::Problem;
use crate::resource::{RestEntity, Shared};
use phial_orm::query;

use crate::handlers::Result;

/// The key text of a row's URL in one spelling (`007` is `7`), so the
/// cache and the change feed name a row alike; `None` when it cannot be
/// a key.
pub(crate) fn canonical_id(s: &Shared, id: &str) -> Option<String> {
    query::key::parse(&s.meta, id).map(|k| query::key::text(&k))
}

/// The row `id` names (a composite key is comma-separated, in key order:
/// [`query::key`]), as a condition on the key columns.
pub(crate) fn key_condition<E: EntityTrait>(s: &Shared, id: &str) -> Result<Condition> {
    let key = query::key::parse(&s.meta, id).ok_or_else(|| Problem::not_found(&s.meta.table))?;
    let parts: Vec<Json> = match key {
        Json::Array(parts) => parts,
        one => vec![one],
    };
    let mut cond = Condition::all();
    for (name, typed) in s.meta.primary_key.iter().zip(&parts) {
        let field = s
            .meta
            .field(name)
            .ok_or_else(|| Problem::internal(&format!("primary key `{name}` is not a field")))?;
        let (col, value) = query::compare_value::<E>(field, typed)
            .map_err(|_| Problem::not_found(&s.meta.table))?;
        cond = cond.add(col.eq(value));
    }
    Ok(cond)
}

pub(crate) fn item_id(parts: &Parts, s: &Shared) -> String {
    let path = parts.uri.path();
    let tail = path
        .strip_prefix(s.collection.as_str())
        .unwrap_or(path)
        .trim_start_matches('/');
    // `+` stays itself in a path (it means a space only in a query).
    percent_encoding::percent_decode_str(tail)
        .decode_utf8_lossy()
        .into_owned()
}

/// Finds one row the caller may reach (`rows`: the decision's filter).
pub(crate) async fn find<E: EntityTrait>(
    s: &Shared,
    db: &Db,
    rows: Option<&Condition>,
    id: &str,
) -> Result<E::Model> {
    let mut cond = key_condition::<E>(s, id)?;
    if let Some(rows) = rows {
        cond = cond.add(rows.clone());
    }
    E::find()
        .filter(cond)
        .one(db.conn())
        .await
        .map_err(|e| Problem::from_db(&s.meta, e.into()))?
        .ok_or_else(|| Problem::not_found(&s.meta.table))
}

pub(crate) fn key_text(key: &Json) -> String {
    query::key::text(key)
}

/// The condition naming the row `model` is.
pub(crate) fn model_key<E: RestEntity>(s: &Shared, model: &E::Model) -> Result<Condition> {
    key_condition::<E>(s, &key_text(&json::key_of::<E>(&s.meta, model)))
}
