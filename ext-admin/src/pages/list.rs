//! The list page (search, filters, sort, pages, bulk selection), bulk
//! delete and actions, CSV export of the filtered list (streamed), and the
//! choices a foreign-key search asks for.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use phial_orm::meta::{FieldKind, FieldMeta};
use sea_orm::{Condition, DbErr};
use serde_json::{Value as Json, json};

use super::{Ctx, key_segment, pairs, parse_key, value};
use crate::access::Permission;
use crate::audit::label_of;
use crate::form::Choice;
use crate::listing::{self, thousands};
use crate::model::{AdminModel, Row, WriteError, json_key};
use phial_orm::query::{ListQuery, Total};

/// Largest foreign table whose rows a select lists in full.
const SMALL_RELATED: u64 = 200;
/// Most rows one bulk request touches.
const BULK_LIMIT: u64 = 1000;

/// The rows this user may reach: `cond` narrowed by the one decision's
/// row filter ([`Ctx::scope`]).
pub(crate) fn scope(ctx: &Ctx, m: &dyn AdminModel, cond: Condition) -> Condition {
    ctx.scope(m, cond)
}

/// How many rows `cond` finds, as a label ("1,234", "about 2,000,000",
/// "more than 10,000") and the exact count when there is one; never a
/// full count of a large table ([`phial_orm::query::count`]).
pub(crate) async fn total(
    ctx: &Ctx,
    m: &dyn AdminModel,
    cond: Condition,
) -> Result<(Option<u64>, String), DbErr> {
    let t = m
        .total(ctx.db.conn(), cond, ctx.reg.cfg.count_limit)
        .await?;
    let label = match t {
        Total::Exact(n) => thousands(n),
        Total::About(n) => format!("about {}", thousands(n)),
        Total::MoreThan(n) => format!("more than {}", thousands(n)),
    };
    Ok((t.exact(), label))
}

/// `GET /admin/{model}` → `/admin/{model}/`, for models there are (the
/// redirect carries the registered slug, never what the request said).
pub(crate) async fn to_slash(ctx: Ctx, Path(slug): Path<String>) -> Response {
    match ctx.reg.model(&slug) {
        Some(m) => {
            let slug = percent_encoding::utf8_percent_encode(
                &m.spec().slug,
                percent_encoding::NON_ALPHANUMERIC,
            );
            Redirect::permanent(&ctx.reg.url(&format!("{slug}/"))).into_response()
        }
        None => ctx.error(StatusCode::NOT_FOUND, "No such model here."),
    }
}

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

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// `GET /admin/{model}/`
pub(crate) async fn page(
    ctx: Ctx,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let m = match ctx.model(&slug, Permission::View) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let spec = &ctx.spec(&*m);
    let q_pairs = pairs(query.unwrap_or_default().as_bytes());
    if let Some(new) = listing::legacy(spec, &q_pairs) {
        let url = phial_orm::query::link(&ctx.reg.url(&format!("{}/", spec.slug)), &new, &[], &[]);
        return Redirect::permanent(&url).into_response();
    }
    let partial = value(&q_pairs, "_partial") == Some("rows");
    let per_page = spec.per_page.unwrap_or(ctx.reg.cfg.per_page);
    let lq = match listing::parse(spec, per_page, &q_pairs) {
        Ok(lq) => lq,
        Err(e) => return ctx.error(StatusCode::BAD_REQUEST, e.message()),
    };
    let cond = match m.condition(&lq, &spec.search) {
        Ok(c) => c,
        Err(e) => return ctx.error(StatusCode::BAD_REQUEST, e.message()),
    };
    let cond = scope(&ctx, &*m, cond);
    let per_page = lq.per_page;
    let offset = match lq.offset() {
        Ok(o) => o,
        Err(e) => return ctx.error(StatusCode::BAD_REQUEST, e.message()),
    };
    let sort = listing::order_of(&lq);
    let conn = ctx.db.conn();
    let fetched = m
        .fetch(conn, cond.clone(), &sort, offset, per_page + 1)
        .await;
    let mut rows = match fetched {
        Ok(r) => r,
        Err(e) => return ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let has_next = rows.len() as u64 > per_page;
    rows.truncate(per_page as usize);
    let rows_json = rows_json(&ctx, &*m, &rows).await;
    if partial {
        return match ctx.tpl.render(
            "admin/_rows.html",
            json!({"rows": rows_json, "columns": columns_json(&ctx, &*m, &lq), "selectable": selectable(&ctx, &*m)}),
        ) {
            Ok(h) => h.into_response(),
            Err(e) => e.into_response(),
        };
    }
    let (exact, total_label) = match total(&ctx, &*m, cond).await {
        Ok(t) => t,
        Err(e) => return ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let page = lq.page_number();
    let last_page = exact.map(|n| n.div_ceil(per_page).max(1));
    let pages: Vec<Json> = match last_page {
        Some(last) => page_numbers(page, last)
            .into_iter()
            .map(|p| match p {
                Some(p) => json!({"n": p, "url": listing::link(&lq, &[("page", p.to_string())], &[]), "current": p == page}),
                None => json!({"gap": true}),
            })
            .collect(),
        None => Vec::new(),
    };
    let mut foreign_choices = HashMap::new();
    for f in &spec.filters {
        if spec.meta.foreign_key(f).is_some()
            && let Some((_, Some(c))) = foreign(&ctx, &*m, f).await
        {
            foreign_choices.insert(f.clone(), c);
        }
    }
    let filters = listing::filters_ui(spec, &lq, &|n| foreign_choices.get(n).cloned());
    let mut actions: Vec<Json> = Vec::new();
    if ctx.may(&*m, Permission::Delete) {
        actions.push(json!({"name": "delete", "label": format!("Delete selected {}", spec.label.to_lowercase())}));
    }
    for (name, label, needs) in m.actions() {
        if ctx.may_run(&*m, needs) {
            actions.push(json!({"name": name, "label": label}));
        }
    }
    let here = listing::link(&lq, &[], &[]);
    ctx.render(
        "admin/list.html",
        &spec.slug,
        &spec.label,
        json!({
            "model": {"label": spec.label, "singular": spec.singular, "slug": spec.slug, "table": spec.meta.table},
            "columns": columns_json(&ctx, &*m, &lq),
            "rows": rows_json,
            "selectable": selectable(&ctx, &*m),
            "actions": actions,
            "filters": filters,
            "search": !spec.search.is_empty(),
            "search_fields": spec.search.iter().map(|s| spec.label_of(s)).collect::<Vec<_>>(),
            "q": lq.q,
            "errors": Vec::<String>::new(),
            "total": total_label,
            "page": page,
            "pages": pages,
            "prev_url": (page > 1).then(|| listing::link(&lq, &[("page", (page - 1).to_string())], &[])),
            "next_url": has_next.then(|| listing::link(&lq, &[("page", (page + 1).to_string())], &[])),
            "here": here,
            "clear_url": if lq.narrowed() { Some(ctx.reg.url(&format!("{}/", spec.slug))) } else { None },
            "add_url": ctx.may(&*m, Permission::Add).then(|| ctx.reg.url(&format!("{}/new", spec.slug))),
            "export_url": spec.can.export.then(|| format!("{}{}", ctx.reg.url(&format!("{}/export.csv", spec.slug)), here.trim_start_matches('?').is_empty().then(String::new).unwrap_or(here.clone()))),
            "bulk_url": ctx.reg.url(&format!("{}/bulk", spec.slug)),
        }),
    )
}

fn selectable(ctx: &Ctx, m: &dyn AdminModel) -> bool {
    ctx.may(m, Permission::Delete)
        || m.actions()
            .iter()
            .any(|(_, _, needs)| ctx.may_run(m, *needs))
}

fn columns_json(ctx: &Ctx, m: &dyn AdminModel, lq: &ListQuery) -> Vec<Json> {
    let spec = &ctx.spec(m);
    spec.list_columns
        .iter()
        .map(|c| {
            let sortable = spec.sortable.contains(c);
            let current = lq
                .sort
                .first()
                .filter(|(s, _)| s == c)
                .map(|(_, o)| *o == sea_orm::Order::Desc);
            let next = match current {
                Some(false) => format!("-{c}"),
                _ => c.clone(),
            };
            json!({
                "name": c,
                "label": spec.label_of(c),
                "sort_url": sortable.then(|| listing::link(lq, &[("sort", next.clone())], &["page"])),
                "sorted": match current { Some(true) => "desc", Some(false) => "asc", None => "" },
                "num": spec.meta.foreign_key(c).is_none() && spec.meta.field(c).is_some_and(|f| matches!(f.kind, FieldKind::Integer | FieldKind::Number)),
            })
        })
        .collect()
}

async fn rows_json(ctx: &Ctx, m: &dyn AdminModel, rows: &[Row]) -> Vec<Json> {
    let spec = &ctx.spec(m);
    let mut fk_labels = HashMap::new();
    for c in &spec.list_columns {
        if let Some(l) = related_labels(ctx, m, c, rows).await {
            fk_labels.insert(c.clone(), l);
        }
    }
    rows.iter()
        .map(|r| {
            let key = json_key(&spec.meta, r);
            let seg = key_segment(&key);
            let cells: Vec<Json> = spec
                .list_columns
                .iter()
                .filter_map(|c| {
                    let f = spec.meta.field(c)?;
                    let v = r.get(c).cloned().unwrap_or(Json::Null);
                    let mut cell = cell(f, &v);
                    if let Some((slug, labels)) = fk_labels.get(c)
                        && let Some(label) = labels.get(&text_of(&v))
                    {
                        cell["text"] = Json::String(label.clone());
                        cell["class"] = Json::String(String::new());
                        cell["url"] =
                            Json::String(ctx.reg.url(&format!("{slug}/{}/", key_segment(&v))));
                    }
                    Some(cell)
                })
                .collect();
            json!({
                "key": super::super::audit::key_text(&key),
                "sel": selection(&key),
                "seg": seg,
                "url": ctx.reg.url(&format!("{}/{seg}/", spec.slug)),
                "label": label_of(spec, r),
                "cells": cells,
            })
        })
        .collect()
}

/// A key as a bulk form's `_selected` value: the value, or JSON for a
/// composite key ([`parse_key`] reads both).
fn selection(key: &Json) -> String {
    match key {
        Json::Array(_) => key.to_string(),
        other => super::super::audit::key_text(other),
    }
}

/// Page links around `current`: 1 … 4 5 [6] 7 8 … 20.
fn page_numbers(current: u64, last: u64) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    let mut prev = 0;
    for p in 1..=last {
        if p == 1 || p == last || p.abs_diff(current) <= 2 {
            if p > prev + 1 {
                out.push(None);
            }
            out.push(Some(p));
            prev = p;
        }
    }
    out
}

/// The selected rows of a bulk form, as a condition within the user's
/// scope.
fn selected(
    ctx: &Ctx,
    m: &dyn AdminModel,
    form: &[(String, String)],
) -> Result<(Condition, usize), String> {
    let keys: Vec<Json> = form
        .iter()
        .filter(|(k, _)| k == "_selected")
        .map(|(_, v)| parse_key(m, v).ok_or_else(|| format!("`{v}` is not a key of this model")))
        .collect::<Result<_, _>>()?;
    if keys.len() as u64 > BULK_LIMIT {
        return Err(format!("select at most {BULK_LIMIT} rows at a time"));
    }
    let cond = m.keys_condition(&keys).map_err(|e| e.message)?;
    Ok((scope(ctx, m, cond), keys.len()))
}

/// `POST /admin/{model}/bulk`: delete (after a confirmation page) or run
/// an action on the selected rows.
pub(crate) async fn bulk(ctx: Ctx, Path(slug): Path<String>, body: Bytes) -> Response {
    let m = match ctx.model(&slug, Permission::View) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let spec = m.spec();
    let form = pairs(&body);
    let back = value(&form, "back").unwrap_or("?").to_owned();
    let list_url = format!(
        "{}{}",
        ctx.reg.url(&format!("{}/", spec.slug)),
        if back.starts_with('?') {
            back.as_str()
        } else {
            ""
        }
    );
    let action = value(&form, "action").unwrap_or("").to_owned();
    let (cond, n) = match selected(&ctx, &*m, &form) {
        Ok(s) => s,
        Err(e) => return ctx.error(StatusCode::BAD_REQUEST, &e),
    };
    if n == 0 {
        return ctx.redirect(
            &list_url,
            "warning",
            "Select rows first, then choose an action.",
        );
    }
    if action == "delete" {
        if !ctx.may(&*m, Permission::Delete) {
            return ctx.error(
                StatusCode::FORBIDDEN,
                &format!("You may not delete {}.", spec.label.to_lowercase()),
            );
        }
        if value(&form, "confirm") != Some("yes") {
            let rows = m
                .fetch(ctx.db.conn(), cond, &spec.order, 0, BULK_LIMIT)
                .await
                .unwrap_or_default();
            let items: Vec<Json> = rows.iter().map(|r| {
                let key = json_key(&spec.meta, r);
                json!({"label": label_of(spec, r), "sel": selection(&key), "url": ctx.reg.url(&format!("{}/{}/", spec.slug, key_segment(&key)))})
            }).collect();
            let (related, refused) = match super::edit::cascade_list(&ctx, &m, &rows).await {
                Ok(r) => (r, None),
                Err(reason) => (Vec::new(), Some(reason)),
            };
            return ctx.render(
                "admin/bulk_delete.html",
                &spec.slug,
                "Delete selected",
                json!({
                    "model": {"label": spec.label, "slug": spec.slug},
                    "items": items,
                    "related": related,
                    "refused": refused,
                    "back": back,
                    "list_url": list_url,
                    "bulk_url": ctx.reg.url(&format!("{}/bulk", spec.slug)),
                }),
            );
        }
        let deleted = ctx
            .write(async |w| w.delete(&m, cond, BULK_LIMIT, "delete", true).await)
            .await;
        return match deleted {
            Ok(gone) => ctx.redirect(
                &list_url,
                "success",
                &format!(
                    "Deleted {} {}.",
                    gone.len(),
                    if gone.len() == 1 {
                        spec.singular.clone()
                    } else {
                        spec.label.to_lowercase()
                    }
                ),
            ),
            Err(e) => write_failed(&ctx, &list_url, e),
        };
    }
    let Some(needs) = m
        .actions()
        .into_iter()
        .find(|(a, _, _)| *a == action)
        .map(|(_, _, needs)| needs)
    else {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            &format!("No action `{action}` on {}.", spec.label.to_lowercase()),
        );
    };
    if !ctx.may_run(&*m, needs) {
        return ctx.error(
            StatusCode::FORBIDDEN,
            &format!(
                "You may not run this action: it needs the `{}.{}` permission.",
                spec.meta.table,
                needs.word()
            ),
        );
    }
    let ran = ctx
        .write(async |w| w.run_action(&*m, &action, needs, cond, BULK_LIMIT).await)
        .await;
    match ran {
        Ok((message, _changed)) => ctx.redirect(&list_url, "success", &message),
        Err(e) => write_failed(&ctx, &list_url, e),
    }
}

/// A failed write as a message on the page it came from; a write outside
/// the user's rows is a 403 page, a refused one (a cascade, a revert) a
/// 409 page, each with the reason.
pub(crate) fn write_failed(ctx: &Ctx, back: &str, e: WriteError) -> Response {
    match e {
        WriteError::Outside(m) => ctx.error(StatusCode::FORBIDDEN, &m),
        WriteError::Refused(m) => ctx.error(StatusCode::CONFLICT, &m),
        e => ctx.redirect(back, "error", &write_message(e)),
    }
}

/// A failed write as a sentence.
pub(crate) fn write_message(e: WriteError) -> String {
    match e {
        WriteError::NotFound => "Those rows are gone (or out of your reach).".to_owned(),
        WriteError::Fields(errors) => errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join(" "),
        WriteError::Conflict(_) => {
            "Someone changed the row meanwhile: reload and try again.".to_owned()
        }
        WriteError::Action(m) => format!("The action failed: {m}"),
        WriteError::Db(e) => super::edit::db_message(&e),
        WriteError::Outside(m) | WriteError::Refused(m) => m,
    }
}

/// `GET /admin/{model}/export.csv`: the filtered list, every visible
/// field, streamed in chunks (no table is held in memory).
pub(crate) async fn export(
    ctx: Ctx,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let m = match ctx.model(&slug, Permission::View) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if !m.spec().can.export {
        return ctx.error(
            StatusCode::FORBIDDEN,
            "Export is switched off for this model.",
        );
    }
    let spec = ctx.spec(&*m);
    let q_pairs = pairs(query.unwrap_or_default().as_bytes());
    if let Some(new) = listing::legacy(&spec, &q_pairs) {
        let url = phial_orm::query::link(
            &ctx.reg.url(&format!("{}/export.csv", spec.slug)),
            &new,
            &[],
            &[],
        );
        return Redirect::permanent(&url).into_response();
    }
    let per_page = spec.per_page.unwrap_or(ctx.reg.cfg.per_page);
    let lq = match listing::parse(&spec, per_page, &q_pairs) {
        Ok(lq) => lq,
        Err(e) => return ctx.error(StatusCode::BAD_REQUEST, e.message()),
    };
    let cond = match m.condition(&lq, &spec.search) {
        Ok(c) => scope(&ctx, &*m, c),
        Err(e) => return ctx.error(StatusCode::BAD_REQUEST, e.message()),
    };
    let names: Vec<String> = spec.meta.visible().map(|f| f.name.clone()).collect();
    let conn = ctx.db.conn().clone();
    let header = csv_line(
        &names
            .iter()
            .map(|n| Json::String(n.clone()))
            .collect::<Vec<_>>(),
    );
    const CHUNK: u64 = 500;
    struct State {
        m: Arc<dyn AdminModel>,
        conn: sea_orm::DatabaseConnection,
        cond: Condition,
        sort: Vec<(String, bool)>,
        keyset: bool,
        order: Vec<(String, sea_orm::Order)>,
        last: Option<Row>,
        names: Vec<String>,
        offset: u64,
        header: Option<Vec<u8>>,
        done: bool,
    }
    let state = State {
        m: m.clone(),
        conn,
        cond,
        sort: listing::order_of(&lq),
        // Keyset chunks (each costs the same, however far the export has
        // gone) unless a sort column may be null (NULLs do not compare).
        keyset: lq
            .order
            .iter()
            .all(|(n, _)| spec.meta.field(n).is_some_and(|f| !f.nullable)),
        order: lq.order.clone(),
        last: None,
        names,
        offset: 0,
        header: Some(header),
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(h) = s.header.take() {
            return Some((Ok::<_, std::io::Error>(Bytes::from(h)), s));
        }
        if s.done {
            return None;
        }
        let (cond, offset) = match (&s.last, s.keyset) {
            (Some(last), true) => match s.m.after_row(&s.order, last) {
                Ok(after) => (s.cond.clone().add(after), 0),
                Err(e) => {
                    let e = std::io::Error::other(e.to_string());
                    return Some((Err(e), State { done: true, ..s }));
                }
            },
            (None, true) => (s.cond.clone(), 0),
            (_, false) => (s.cond.clone(), s.offset),
        };
        let rows = match s.m.fetch(&s.conn, cond, &s.sort, offset, CHUNK).await {
            Ok(r) => r,
            Err(e) => {
                return Some((
                    Err(std::io::Error::other(e.to_string())),
                    State { done: true, ..s },
                ));
            }
        };
        if rows.is_empty() {
            return None;
        }
        s.done = (rows.len() as u64) < CHUNK;
        s.offset += CHUNK;
        s.last = rows.last().cloned();
        let mut out = Vec::new();
        for r in &rows {
            let values: Vec<Json> = s
                .names
                .iter()
                .map(|n| r.get(n).cloned().unwrap_or(Json::Null))
                .collect();
            out.extend(csv_line(&values));
        }
        Some((Ok(Bytes::from(out)), s))
    });
    let filename = format!("{}.csv", m.spec().slug);
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// One CSV record (RFC 4180). Text that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@` first) is prefixed with `'`.
fn csv_line(values: &[Json]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let record: Vec<String> = values
        .iter()
        .map(|v| match v {
            Json::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
            other => text_of(other),
        })
        .collect();
    let _ = w.write_record(&record);
    w.into_inner().unwrap_or_default()
}

/// `GET /admin/{model}/choices?q=`: rows whose title or search fields
/// contain `q`, for a foreign-key search (JSON).
pub(crate) async fn choices(
    ctx: Ctx,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let m = match ctx.model(&slug, Permission::View) {
        Ok(m) => m,
        Err(r) => return r,
    };
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
    axum::Json(out).into_response()
}
