//! The audit log: every write made here, overall and per row, each with
//! its field-level diff and a one-click revert (which is logged too).

use axum::extract::{Path, RawQuery};
use axum::response::Response;
use http::StatusCode;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value as Json, json};

use super::write_failed::write_failed;
use super::{Ctx, key_segment, pairs, value};
use crate::access::Permission;
use crate::log;
use crate::model::AdminModel;
use crate::writes::{Kind, entry_changes, kind};

const PER_PAGE: u64 = 50;
/// The furthest page of the log (past it: a 400, never an overflow).
const MAX_PAGE: u64 = 1_000_000;

/// Tables whose entries only superusers see: staff users and roles.
pub(crate) const STAFF_TABLES: [&str; 2] = ["phial_admin_user", "phial_admin_role"];

fn show(v: &Json) -> String {
    match v {
        Json::Null => "—".into(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An entry as the templates show it: the columns the admin never shows
/// (kept for reverts) and those the model's policy hides from this user
/// are left out.
pub(crate) fn entry_json(ctx: &Ctx, e: &log::Model) -> Json {
    let model = ctx.reg.by_table(&e.table_name);
    let spec = model.map(|m| m.spec());
    let hidden = model.map(|m| ctx.hidden(&**m)).unwrap_or_default();
    let key: Json = serde_json::from_str(&e.object_key).unwrap_or(Json::Null);
    let object_url = spec
        .filter(|_| kind(e) != Kind::Deleted)
        .map(|s| ctx.reg.url(&format!("{}/{}/", s.slug, key_segment(&key))));
    let (shown, _) = entry_changes(e);
    let fields: Vec<Json> = shown
        .iter()
        .filter(|(name, _)| !hidden.contains(name))
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
        "cascade_of": e.cascade_of.map(|c| ctx.reg.url(&format!("log/{c}"))),
        "url": ctx.reg.url(&format!("log/{}", e.id)),
    })
}

/// The tables whose entries the user sees: models they may view here,
/// and (superusers) staff users and roles.
fn viewable_tables(ctx: &Ctx) -> Vec<String> {
    let mut tables: Vec<String> = ctx
        .reg
        .models
        .iter()
        .filter(|m| ctx.may(&***m, Permission::View))
        .map(|m| m.spec().meta.table.clone())
        .collect();
    if ctx.staff.superuser {
        tables.extend(STAFF_TABLES.iter().map(|t| (*t).to_owned()));
    }
    tables
}

/// `found` without the entries of rows outside the user's row filter: an
/// entry shows the values of its row, so it is shown to those who may see
/// that row now (a deleted row's entries: to those whose view of the
/// table is not narrowed).
pub(crate) async fn within_reach(
    ctx: &Ctx,
    found: Vec<log::Model>,
) -> Result<Vec<log::Model>, sea_orm::DbErr> {
    let mut reachable: std::collections::HashSet<(String, String)> = Default::default();
    let mut narrowed: Vec<(std::sync::Arc<dyn AdminModel>, Vec<Json>)> = Vec::new();
    for e in &found {
        let Some(m) = ctx.reg.by_table(&e.table_name) else {
            continue;
        };
        if ctx.scope(&**m, Condition::all()).is_empty() {
            continue;
        }
        let key: Json = serde_json::from_str(&e.object_key).unwrap_or(Json::Null);
        match narrowed
            .iter_mut()
            .find(|(n, _)| n.spec().meta.table == e.table_name)
        {
            Some((_, keys)) => keys.push(key),
            None => narrowed.push((m.clone(), vec![key])),
        }
    }
    for (m, keys) in &narrowed {
        let Ok(cond) = m.keys_condition(keys) else {
            continue;
        };
        let rows = m
            .fetch(
                ctx.db.conn(),
                ctx.scope(&**m, cond),
                &[],
                0,
                keys.len() as u64,
            )
            .await?;
        for r in rows {
            reachable.insert((
                m.spec().meta.table.clone(),
                crate::model::json_key(&m.spec().meta, &r).to_string(),
            ));
        }
    }
    Ok(found
        .into_iter()
        .filter(|e| {
            let narrowed_table = narrowed
                .iter()
                .any(|(n, _)| n.spec().meta.table == e.table_name);
            !narrowed_table || reachable.contains(&(e.table_name.clone(), e.object_key.clone()))
        })
        .collect())
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
    let found: Vec<log::Model> = found.into_iter().take(PER_PAGE as usize).collect();
    let shown = within_reach(ctx, found).await?;
    Ok((shown.iter().map(|e| entry_json(ctx, e)).collect(), more))
}

/// `GET /admin/log?table=&user=&page=`
pub(crate) async fn index(ctx: Ctx, RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.unwrap_or_default().as_bytes());
    let page = match value(&q, "page").filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => match p.parse::<u64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "`page` must be a number from 1 to {MAX_PAGE}; narrow the log by model or \
                         user instead."
                    ),
                );
            }
        },
    };
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
pub(crate) async fn history(
    ctx: Ctx,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, Response> {
    let m = ctx.model(&slug, Permission::View)?;
    let Some(k) = super::parse_key(&*m, &key) else {
        return Err(ctx.error(StatusCode::NOT_FOUND, "No such row."));
    };
    let cond = Condition::all()
        .add(log::Column::TableName.eq(m.spec().meta.table.clone()))
        .add(log::Column::ObjectKey.eq(k.to_string()));
    let (items, _) = match entries(&ctx, cond, 1).await {
        Ok(x) => x,
        Err(e) => return Err(ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    };
    Ok(ctx.render(
        "admin/log.html",
        &m.spec().slug,
        "History",
        json!({
            "entries": items,
            "heading": format!("History of {} {}", m.spec().singular, crate::audit_entries::key_text(&k)),
            "object_url": ctx.reg.url(&format!("{}/{}/", m.spec().slug, key_segment(&k))),
        }),
    ))
}

/// Entry `id`, if the user may see it, with its model (none for staff
/// events).
async fn find_entry(
    ctx: &Ctx,
    id: &str,
) -> Result<(log::Model, Option<std::sync::Arc<dyn AdminModel>>), Response> {
    let missing = || ctx.error(StatusCode::NOT_FOUND, &format!("No log entry {id}."));
    let id: i64 = id.parse().map_err(|_| missing())?;
    let e = log::Entity::find_by_id(id)
        .one(ctx.db.conn())
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
        .ok_or_else(missing)?;
    if !viewable_tables(ctx).contains(&e.table_name) {
        return Err(missing());
    }
    let reached = within_reach(ctx, vec![e])
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    let e = reached.into_iter().next().ok_or_else(missing)?;
    let m = ctx.reg.by_table(&e.table_name).cloned();
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
pub(crate) async fn entry(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    let (e, m) = find_entry(&ctx, &id).await?;
    let can_revert = e.reverted_by.is_none()
        && e.cascade_of.is_none()
        && m.as_ref().is_some_and(|m| ctx.may(&**m, revert_needs(&e)));
    Ok(ctx.render(
        "admin/entry.html",
        "log",
        &format!("Log entry {}", e.id),
        json!({
            "entry": entry_json(&ctx, &e),
            "can_revert": can_revert,
            "revert_url": ctx.reg.url(&format!("log/{}/revert", e.id)),
            "reverted_url": e.reverted_by.map(|r| ctx.reg.url(&format!("log/{r}"))),
        }),
    ))
}

/// `POST /admin/log/{entry}/revert`: undoes the entry — deletes a created
/// row, restores a deleted one, sets changed fields back (refused when a
/// later change touched them: nothing is silently overwritten).
pub(crate) async fn revert(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    let (e, m) = find_entry(&ctx, &id).await?;
    let here = ctx.reg.url(&format!("log/{}", e.id));
    let Some(m) = m else {
        return Err(ctx.error(
            StatusCode::CONFLICT,
            "Changes to staff users and roles are not reverted here: edit the user or role.",
        ));
    };
    if e.reverted_by.is_some() {
        return Ok(ctx.redirect(&here, "warning", "This change was already reverted."));
    }
    let needs = revert_needs(&e);
    if !ctx.may(&*m, needs) {
        return Err(ctx.error(
            StatusCode::FORBIDDEN,
            &format!(
                "Reverting this needs the `{}.{}` permission.",
                e.table_name,
                needs.word()
            ),
        ));
    }
    Ok(match ctx.write(async |w| w.revert(&m, &e).await).await {
        Ok(Some(_)) => ctx.redirect(&here, "success", "Reverted."),
        Ok(None) => ctx.redirect(&here, "warning", "The row was already gone."),
        Err(err) => write_failed(&ctx, &here, err),
    })
}
