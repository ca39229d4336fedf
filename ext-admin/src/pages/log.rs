//! The audit log: every write made here, overall and per row, each with
//! its field-level diff and a one-click revert (which is logged too).

use axum::extract::{Path, RawQuery};
use axum::response::Response;
use http::StatusCode;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Map, Value as Json, json};

use super::list::write_failed;
use super::{Ctx, key_segment, pairs, value};
use crate::access::Permission;
use crate::log;
use crate::model::{AdminModel, Row};

const PER_PAGE: u64 = 50;

/// What a log entry did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Inserted,
    Deleted,
    Changed,
}

fn kind(e: &log::Model) -> Kind {
    match e.action.as_str() {
        "create" | "restore" => Kind::Inserted,
        "delete" => Kind::Deleted,
        _ => Kind::Changed,
    }
}

fn changes(e: &log::Model) -> Map<String, Json> {
    serde_json::from_str::<Json>(&e.changes)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

fn show(v: &Json) -> String {
    match v {
        Json::Null => "—".into(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An entry as the templates show it.
pub(crate) fn entry_json(ctx: &Ctx, e: &log::Model) -> Json {
    let model = ctx.reg.by_table(&e.table_name);
    let spec = model.map(|m| m.spec());
    let key: Json = serde_json::from_str(&e.object_key).unwrap_or(Json::Null);
    let object_url = spec
        .filter(|_| kind(e) != Kind::Deleted)
        .map(|s| ctx.reg.url(&format!("{}/{}/", s.slug, key_segment(&key))));
    let fields: Vec<Json> = changes(e)
        .iter()
        .map(|(name, pair)| {
            let label = spec.map_or_else(|| name.clone(), |s| s.label_of(name));
            json!({
                "name": name,
                "label": label,
                "before": show(pair.get(0).unwrap_or(&Json::Null)),
                "after": show(pair.get(1).unwrap_or(&Json::Null)),
            })
        })
        .collect();
    json!({
        "id": e.id,
        "at": e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        "username": e.username,
        "table": e.table_name,
        "model": spec.map_or_else(|| e.table_name.clone(), |s| s.label.clone()),
        "singular": spec.map_or_else(|| e.table_name.clone(), |s| s.singular.clone()),
        "object_label": e.object_label,
        "object_url": object_url,
        "action": e.action,
        "kind": match kind(e) { Kind::Inserted => "inserted", Kind::Deleted => "deleted", Kind::Changed => "changed" },
        "fields": fields,
        "reverted_by": e.reverted_by,
        "url": ctx.reg.url(&format!("log/{}", e.id)),
    })
}

fn viewable_tables(ctx: &Ctx) -> Vec<String> {
    ctx.reg
        .models
        .iter()
        .filter(|m| ctx.may(&***m, Permission::View))
        .map(|m| m.spec().meta.table.clone())
        .collect()
}

async fn entries(
    ctx: &Ctx,
    cond: Condition,
    page: u64,
) -> Result<(Vec<Json>, bool), sea_orm::DbErr> {
    let found = log::Entity::find()
        .filter(cond)
        .filter(log::Column::TableName.is_in(viewable_tables(ctx)))
        .order_by_desc(log::Column::Id)
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE + 1)
        .all(ctx.db.conn())
        .await?;
    let more = found.len() as u64 > PER_PAGE;
    Ok((
        found
            .iter()
            .take(PER_PAGE as usize)
            .map(|e| entry_json(ctx, e))
            .collect(),
        more,
    ))
}

/// `GET /admin/log?table=&user=&page=`
pub(crate) async fn index(ctx: Ctx, RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.unwrap_or_default().as_bytes());
    let page = value(&q, "page")
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let mut cond = Condition::all();
    if let Some(t) = value(&q, "table").filter(|t| !t.is_empty()) {
        cond = cond.add(log::Column::TableName.eq(t));
    }
    if let Some(u) = value(&q, "user").filter(|u| !u.is_empty()) {
        cond = cond.add(log::Column::Username.eq(u));
    }
    let (items, more) = match entries(&ctx, cond, page).await {
        Ok(x) => x,
        Err(e) => return ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let tables: Vec<Json> = ctx
        .reg
        .models
        .iter()
        .filter(|m| ctx.may(&***m, Permission::View))
        .map(|m| json!({"table": m.spec().meta.table, "label": m.spec().label, "selected": value(&q, "table") == Some(m.spec().meta.table.as_str())}))
        .collect();
    let link = |p: u64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for k in ["table", "user"] {
            if let Some(v) = value(&q, k).filter(|v| !v.is_empty()) {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &p.to_string());
        format!("?{}", s.finish())
    };
    ctx.render(
        "admin/log.html",
        "log",
        "Audit log",
        json!({
            "entries": items,
            "tables": tables,
            "user": value(&q, "user").unwrap_or(""),
            "prev_url": (page > 1).then(|| link(page - 1)),
            "next_url": more.then(|| link(page + 1)),
            "heading": "Audit log",
        }),
    )
}

/// `GET /admin/{model}/{key}/history`
pub(crate) async fn history(ctx: Ctx, Path((slug, key)): Path<(String, String)>) -> Response {
    let m = match ctx.model(&slug, Permission::View) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(k) = super::parse_key(&*m, &key) else {
        return ctx.error(StatusCode::NOT_FOUND, "No such row.");
    };
    let cond = Condition::all()
        .add(log::Column::TableName.eq(m.spec().meta.table.clone()))
        .add(log::Column::ObjectKey.eq(k.to_string()));
    let (items, _) = match entries(&ctx, cond, 1).await {
        Ok(x) => x,
        Err(e) => return ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    ctx.render(
        "admin/log.html",
        &m.spec().slug,
        "History",
        json!({
            "entries": items,
            "heading": format!("History of {} {}", m.spec().singular, crate::audit::key_text(&k)),
            "object_url": ctx.reg.url(&format!("{}/{}/", m.spec().slug, key_segment(&k))),
        }),
    )
}

async fn find_entry(
    ctx: &Ctx,
    id: &str,
) -> Result<(log::Model, std::sync::Arc<dyn AdminModel>), Response> {
    let missing = || ctx.error(StatusCode::NOT_FOUND, &format!("No log entry {id}."));
    let id: i64 = id.parse().map_err(|_| missing())?;
    let e = log::Entity::find_by_id(id)
        .one(ctx.db.conn())
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
        .ok_or_else(missing)?;
    let m = ctx
        .reg
        .by_table(&e.table_name)
        .cloned()
        .ok_or_else(missing)?;
    if !ctx.may(&*m, Permission::View) {
        return Err(missing());
    }
    Ok((e, m))
}

/// The permission a revert of `e` needs.
fn revert_needs(e: &log::Model) -> Permission {
    match kind(e) {
        Kind::Inserted => Permission::Delete,
        Kind::Deleted => Permission::Add,
        Kind::Changed => Permission::Change,
    }
}

/// `GET /admin/log/{entry}`
pub(crate) async fn entry(ctx: Ctx, Path(id): Path<String>) -> Response {
    let (e, m) = match find_entry(&ctx, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let can_revert = e.reverted_by.is_none() && ctx.may(&*m, revert_needs(&e));
    ctx.render(
        "admin/entry.html",
        "log",
        &format!("Log entry {}", e.id),
        json!({
            "entry": entry_json(&ctx, &e),
            "can_revert": can_revert,
            "revert_url": ctx.reg.url(&format!("log/{}/revert", e.id)),
            "reverted_url": e.reverted_by.map(|r| ctx.reg.url(&format!("log/{r}"))),
        }),
    )
}

/// `POST /admin/log/{entry}/revert`: undoes the entry — deletes a created
/// row, restores a deleted one, sets changed fields back (refused when a
/// later change touched them: nothing is silently overwritten).
pub(crate) async fn revert(ctx: Ctx, Path(id): Path<String>) -> Response {
    let (e, m) = match find_entry(&ctx, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let here = ctx.reg.url(&format!("log/{}", e.id));
    if e.reverted_by.is_some() {
        return ctx.redirect(&here, "warning", "This change was already reverted.");
    }
    let needs = revert_needs(&e);
    if !ctx.may(&*m, needs) {
        return ctx.error(
            StatusCode::FORBIDDEN,
            &format!(
                "Reverting this needs the `{}.{}` permission.",
                e.table_name,
                needs.word()
            ),
        );
    }
    let key: Json = serde_json::from_str(&e.object_key).unwrap_or(Json::Null);
    let diff = changes(&e);
    let cond = match m.key_condition(&key) {
        Ok(c) => super::list::scope(&ctx, &*m, c),
        Err(err) => return ctx.error(StatusCode::BAD_REQUEST, &err.message),
    };
    let who = ctx.who();
    let result = match kind(&e) {
        Kind::Inserted => m
            .delete(&ctx.db, &who, cond, 1, "delete")
            .await
            .map(|g| !g.is_empty()),
        Kind::Deleted => {
            let row: Row = diff
                .iter()
                .map(|(k, pair)| (k.clone(), pair.get(0).cloned().unwrap_or(Json::Null)))
                .collect();
            m.restore(&ctx.db, &who, row).await.map(|_| true)
        }
        Kind::Changed => {
            let current = m
                .fetch(ctx.db.conn(), cond.clone(), &[], 0, 1)
                .await
                .ok()
                .and_then(|mut r| r.pop());
            let Some(current) = current else {
                return ctx.redirect(
                    &here,
                    "error",
                    "The row is gone: there is nothing to revert.",
                );
            };
            let moved: Vec<String> = diff
                .iter()
                .filter(|(k, pair)| current.get(*k) != pair.get(1))
                .map(|(k, _)| m.spec().label_of(k))
                .collect();
            if !moved.is_empty() {
                return ctx.redirect(
                    &here,
                    "error",
                    &format!(
                        "Not reverted: {} changed again since. Edit the row instead.",
                        moved.join(", ")
                    ),
                );
            }
            let values: Map<String, Json> = diff
                .iter()
                .filter(|(k, _)| m.spec().writable(k))
                .map(|(k, pair)| (k.clone(), pair.get(0).cloned().unwrap_or(Json::Null)))
                .collect();
            m.update(&ctx.db, &who, cond, Json::Object(values), None, "revert")
                .await
                .map(|_| true)
        }
    };
    match result {
        Ok(true) => {
            // The revert's own entry is the newest for this row.
            let newest = log::Entity::find()
                .filter(log::Column::TableName.eq(e.table_name.clone()))
                .filter(log::Column::ObjectKey.eq(e.object_key.clone()))
                .order_by_desc(log::Column::Id)
                .one(ctx.db.conn())
                .await
                .ok()
                .flatten();
            if let Some(n) = newest.filter(|n| n.id > e.id) {
                let mut am: log::ActiveModel = e.clone().into();
                am.reverted_by = Set(Some(n.id));
                let _ = am.update(ctx.db.conn()).await;
            }
            ctx.redirect(&here, "success", "Reverted.")
        }
        Ok(false) => ctx.redirect(&here, "warning", "The row was already gone."),
        Err(err) => write_failed(&ctx, &here, err),
    }
}
