//! The list page: search, filters, sort, pages and the selection that
//! bulk actions take.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use phial_orm::meta::FieldKind;
use serde_json::{Value as Json, json};

use super::cells::{cell, text_of};
use super::reach::{scope, total};
use super::related::{foreign, related_labels};
use super::{Ctx, key_segment, pairs, value};
use crate::access::Permission;
use crate::audit_entries::label_of;
use crate::list_query::{self};
use crate::model::{AdminModel, Row, json_key};
use phial_orm::query::ListQuery;

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

/// `GET /admin/{model}/`
pub(crate) async fn page(
    ctx: Ctx,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let m = ctx.model(&slug, Permission::View)?;
    let spec = &ctx.spec(&*m);
    let q_pairs = pairs(query.unwrap_or_default().as_bytes());
    if let Some(new) = list_query::legacy(spec, &q_pairs) {
        let url = phial_orm::query::link(&ctx.reg.url(&format!("{}/", spec.slug)), &new, &[], &[]);
        return Ok(Redirect::permanent(&url).into_response());
    }
    let partial = value(&q_pairs, "_partial") == Some("rows");
    let per_page = spec.per_page.unwrap_or(ctx.reg.cfg.per_page);
    let lq = list_query::parse(spec, per_page, &q_pairs)
        .map_err(|e| ctx.error(StatusCode::BAD_REQUEST, e.message()))?;
    let cond = m
        .condition(&lq, &spec.search)
        .map_err(|e| ctx.error(StatusCode::BAD_REQUEST, e.message()))?;
    let cond = scope(&ctx, &*m, cond);
    let per_page = lq.per_page;
    let offset = lq
        .offset()
        .map_err(|e| ctx.error(StatusCode::BAD_REQUEST, e.message()))?;
    let sort = list_query::order_of(&lq);
    let conn = ctx.db.conn();
    let fetched = m
        .fetch(conn, cond.clone(), &sort, offset, per_page + 1)
        .await;
    let mut rows = match fetched {
        Ok(r) => r,
        Err(e) => return Err(ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    };
    let has_next = rows.len() as u64 > per_page;
    rows.truncate(per_page as usize);
    let rows_json = rows_json(&ctx, &*m, &rows).await;
    if partial {
        return Err(match ctx.tpl.render(
            "admin/_rows.html",
            json!({"rows": rows_json, "columns": columns_json(&ctx, &*m, &lq), "selectable": selectable(&ctx, &*m)}),
        ) {
            Ok(h) => h.into_response(),
            Err(e) => e.into_response(),
        });
    }
    let shown = Some((offset, rows.len() as u64, has_next));
    let (exact, total_label) = match total(&ctx, &*m, cond, shown).await {
        Ok(t) => t,
        Err(e) => return Err(ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    };
    let page = lq.page_number();
    let last_page = exact.map(|n| n.div_ceil(per_page).max(1));
    let pages: Vec<Json> = match last_page {
        Some(last) => page_numbers(page, last)
            .into_iter()
            .map(|p| match p {
                Some(p) => json!({"n": p, "url": list_query::link(&lq, &[("page", p.to_string())], &[]), "current": p == page}),
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
    let filters = list_query::filters_ui(spec, &lq, &|n| foreign_choices.get(n).cloned());
    let mut actions: Vec<Json> = Vec::new();
    if ctx.may(&*m, Permission::Delete) {
        actions.push(json!({"name": "delete", "label": format!("Delete selected {}", spec.label.to_lowercase())}));
    }
    for (name, label, needs) in m.actions() {
        if ctx.may_run(&*m, needs) {
            actions.push(json!({"name": name, "label": label}));
        }
    }
    let here = list_query::link(&lq, &[], &[]);
    Ok(ctx.render(
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
            "prev_url": (page > 1).then(|| list_query::link(&lq, &[("page", (page - 1).to_string())], &[])),
            "next_url": has_next.then(|| list_query::link(&lq, &[("page", (page + 1).to_string())], &[])),
            "here": here,
            "clear_url": if lq.narrowed() { Some(ctx.reg.url(&format!("{}/", spec.slug))) } else { None },
            "add_url": ctx.may(&*m, Permission::Add).then(|| ctx.reg.url(&format!("{}/new", spec.slug))),
            "export_url": spec.can.export.then(|| format!("{}{}", ctx.reg.url(&format!("{}/export.csv", spec.slug)), here.trim_start_matches('?').is_empty().then(String::new).unwrap_or(here.clone()))),
            "bulk_url": ctx.reg.url(&format!("{}/bulk", spec.slug)),
        }),
    ))
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
                "sort_url": sortable.then(|| list_query::link(lq, &[("sort", next.clone())], &["page"])),
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
                "key": crate::audit_entries::key_text(&key),
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
pub(crate) fn selection(key: &Json) -> String {
    match key {
        Json::Array(_) => key.to_string(),
        other => crate::audit_entries::key_text(other),
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
