//! The choices a foreign-key search asks for (a related table too large
//! for a select).

use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use phial_orm::meta::FieldKind;
use sea_orm::Condition;
use serde_json::{Value as Json, json};

use super::cells::text_of;
use super::reach::scope;
use super::{Ctx, pairs, parse_key, value};
use crate::access::Permission;
use crate::audit_entries::label_of;
use crate::model::json_key;
use phial_orm::query::ListQuery;

/// `GET /admin/{model}/choices?q=`: rows whose title or search fields
/// contain `q`, for a foreign-key search (JSON).
pub(crate) async fn choices(
    ctx: Ctx,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let m = ctx.model(&slug, Permission::View)?;
    let spec = &ctx.spec(&*m);
    let q = pairs(query.unwrap_or_default().as_bytes());
    let term = value(&q, "q").unwrap_or("").trim().to_owned();
    let mut cond = Condition::all();
    if !term.is_empty() {
        let mut fields: Vec<String> = spec.search.clone();
        if let Some(t) = &spec.title_field
            && !fields.contains(t)
            && spec
                .meta
                .field(t)
                .is_some_and(|f| matches!(f.kind, FieldKind::String | FieldKind::Text))
        {
            fields.push(t.clone());
        }
        let mut any = Condition::any();
        let search = ListQuery {
            q: Some(term.clone()),
            ..ListQuery::default()
        };
        if let Ok(c) = m.condition(&search, &fields) {
            any = any.add(c);
        }
        // A number may be a key.
        if let Some(k) = parse_key(&*m, &term)
            && let Ok(c) = m.key_condition(&k)
        {
            any = any.add(c);
        }
        cond = cond.add(any);
    }
    let rows = m
        .fetch(ctx.db.conn(), scope(&ctx, &*m, cond), &spec.order, 0, 20)
        .await
        .unwrap_or_default();
    let out: Vec<Json> = rows
        .iter()
        .map(|r| json!({"value": text_of(&json_key(&spec.meta, r)), "label": label_of(spec, r)}))
        .collect();
    Ok(axum::Json(out).into_response())
}
