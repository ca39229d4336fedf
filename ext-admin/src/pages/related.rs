//! Rows of related models as the pages show them: a foreign key's
//! choices (every row of a small related table) and the labels of the
//! rows a page's foreign keys point at.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::Condition;
use serde_json::Value as Json;

use super::Ctx;
use super::cells::text_of;
use super::reach::scope;
use crate::access::Permission;
use crate::audit_entries::label_of;
use crate::form::Choice;
use crate::model::{AdminModel, Row, json_key};

/// Largest foreign table whose rows a select lists in full.
pub(crate) const SMALL_RELATED: u64 = 200;

/// Choices of a related model for a foreign key `field` of `m`: the
/// related view (if registered and viewable) and, when small, every row.
pub(crate) async fn foreign(
    ctx: &Ctx,
    m: &dyn AdminModel,
    field: &str,
) -> Option<(Arc<dyn AdminModel>, Option<Vec<Choice>>)> {
    let rel = m.spec().meta.foreign_key(field)?;
    let related = ctx.reg.by_table(&rel.table)?.clone();
    if !ctx.may(&*related, Permission::View) {
        return None;
    }
    let conn = ctx.db.conn();
    let cond = scope(ctx, &*related, Condition::all());
    let n = related
        .count(conn, cond.clone(), SMALL_RELATED)
        .await
        .ok()?;
    if n > SMALL_RELATED {
        return Some((related, None));
    }
    let spec = related.spec();
    let rows = related
        .fetch(conn, cond, &spec.order, 0, SMALL_RELATED)
        .await
        .ok()?;
    let to = rel.to.first()?.clone();
    let choices = rows
        .iter()
        .map(|r| Choice {
            value: r.get(&to).map(text_of).unwrap_or_default(),
            label: label_of(spec, r),
        })
        .collect();
    Some((related, Some(choices)))
}

/// Labels of related rows by their key text, for foreign-key cells.
pub(crate) async fn related_labels(
    ctx: &Ctx,
    m: &dyn AdminModel,
    field: &str,
    rows: &[Row],
) -> Option<(String, HashMap<String, String>)> {
    let rel = m.spec().meta.foreign_key(field)?;
    let related = ctx.reg.by_table(&rel.table)?.clone();
    if !ctx.may(&*related, Permission::View) || related.spec().meta.primary_key.len() != 1 {
        return None;
    }
    let mut keys: Vec<Json> = rows
        .iter()
        .filter_map(|r| r.get(field).filter(|v| !v.is_null()).cloned())
        .collect();
    keys.sort_by_key(text_of);
    keys.dedup();
    let cond = scope(ctx, &*related, related.keys_condition(&keys).ok()?);
    let found = related
        .fetch(ctx.db.conn(), cond, &[], 0, keys.len() as u64)
        .await
        .ok()?;
    let spec = related.spec();
    let labels = found
        .iter()
        .map(|r| (text_of(&json_key(&spec.meta, r)), label_of(spec, r)))
        .collect();
    Some((spec.slug.clone(), labels))
}
