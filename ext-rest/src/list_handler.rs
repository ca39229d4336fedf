//! `GET /api/{collection}`: a list page through the one query layer
//! (filters, search, sort, numbered or cursor pages, a bounded total and
//! links), the rows written straight into the body.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::IF_NONE_MATCH;
use http::request::Parts;
use phial_core::AppState;
use phial_orm::meta::ModelMeta;
use phial_orm::meta::json::{self};
use phial_orm::policy::{Action, Decision};
use sea_orm::{QueryFilter, QuerySelect};
use serde_json::{Map, Value as Json, json};

use crate::access::{self, authorize};
use crate::cached::{self, Stored};
use crate::problem::Problem;
use crate::resource::{RestEntity, Shared};
use phial_orm::query::{self, ListQuery, Total};

use crate::handlers::{Result, db};
use crate::respond::{respond, stored_bytes};

pub(crate) async fn list<E>(s: Arc<Shared>, app: AppState, req: Request) -> Response
where
    E: RestEntity,
{
    let (parts, _) = req.into_parts();
    match list_inner::<E>(&s, &app, &parts).await {
        Ok(res) => res,
        Err(p) => p.into_response(),
    }
}

pub(crate) async fn list_inner<E>(s: &Shared, app: &AppState, parts: &Parts) -> Result<Response>
where
    E: RestEntity,
{
    let access = authorize(s, parts, app, Action::List).await?;
    let shown = access::visible(s, &access.decision);
    let (meta, rules) = shown.as_ref().map_or((&s.meta, &s.rules), |(m, r)| (m, r));
    let raw_query = parts.uri.query().unwrap_or("");
    let list: ListQuery = query::parse(raw_query, meta, rules)?;
    let stored = cached::read(s, app, &access, cached::Read::List(raw_query), || {
        load_list::<E>(
            s,
            app,
            meta,
            rules,
            &access.decision,
            parts.uri.path(),
            &list,
        )
    })
    .await?;
    Ok(respond(
        StatusCode::OK,
        stored,
        parts.headers.get(IF_NONE_MATCH),
    ))
}

pub(crate) async fn load_list<E>(
    s: &Shared,
    app: &AppState,
    meta: &ModelMeta,
    rules: &query::ListRules,
    decision: &Decision,
    path: &str,
    list: &ListQuery,
) -> Result<Stored>
where
    E: RestEntity,
{
    let db = db(app)?;
    let mut cond = query::condition::<E>(meta, list, &rules.searchable)?;
    if let Some(rows) = &decision.rows {
        cond = cond.add(rows.clone());
    }
    let per_page = list.per_page;
    let mut select = query::filtered(E::find(), &cond);
    if let Some(cursor) = &list.cursor {
        select = select.filter(query::after_cursor::<E>(&s.meta, list, cursor)?);
    }
    select = query::ordered(select, &list.order)?;
    let page = list.page_number();
    let offset = match &list.cursor {
        // A page past the last is empty (its `last` link says where the
        // rows end); one past any table a database can count is a 400.
        None => Some(list.offset()?),
        Some(_) => None,
    };
    if let Some(offset) = offset {
        select = select.offset(offset);
    }
    // One row more than the page says whether another page follows.
    let mut rows = select
        .limit(per_page + 1)
        .all(db.conn())
        .await
        .map_err(|e| Problem::from_db(&s.meta, e.into()))?;
    let more = rows.len() as u64 > per_page;
    rows.truncate(per_page as usize);
    // A list that ends on this page needs no count.
    let total = match query::count::from_page(offset, rows.len() as u64, more) {
        Some(total) => total,
        None => {
            let narrowed = (!cond.is_empty()).then(|| query::filtered(E::find(), &cond));
            query::count::total(db.conn(), &s.meta.table, narrowed, s.count_limit)
                .await
                .map_err(|e| Problem::from_db(&s.meta, e.into()))?
        }
    };
    let pages = total.number().div_ceil(per_page).max(1);
    let next_cursor = match (more, rows.last()) {
        (true, Some(last))
            if list
                .order
                .iter()
                .all(|(n, _)| s.meta.field(n).is_some_and(|f| !f.nullable)) =>
        {
            let mut last = json::to_json::<E>(&s.meta, last);
            let values: Vec<Json> = list
                .order
                .iter()
                .map(|(n, _)| last.remove(n).unwrap_or(Json::Null))
                .collect();
            Some(query::cursor::encode(&values))
        }
        _ => None,
    };
    let to = |set: &[(&str, String)], drop: &[&str]| -> Json {
        query::link(path, &list.pairs, set, drop).into()
    };
    let mut links = Map::new();
    links.insert("self".into(), to(&[], &[]));
    if list.cursor.is_none() {
        links.insert("first".into(), to(&[("page", "1".into())], &["cursor"]));
        if !matches!(total, Total::MoreThan(_)) {
            links.insert(
                "last".into(),
                to(&[("page", pages.to_string())], &["cursor"]),
            );
        }
        if page > 1 {
            links.insert(
                "prev".into(),
                to(&[("page", (page - 1).to_string())], &["cursor"]),
            );
        }
        if more {
            links.insert(
                "next".into(),
                to(&[("page", (page + 1).to_string())], &["cursor"]),
            );
        }
    } else if let Some(c) = &next_cursor {
        links.insert("next".into(), to(&[("cursor", c.clone())], &["page"]));
    }
    // The rows are written straight into the body; the rest is small.
    let mut out = Vec::with_capacity(64 + rows.len() * 256);
    out.extend_from_slice(b"{\"items\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::write_json::<E>(meta, row, &mut out);
    }
    out.push(b']');
    let mut rest = json!({
        "total": total.number(),
        "total_estimated": total.exact().is_none(),
        "per_page": per_page,
        "next_cursor": next_cursor,
        "links": links,
    });
    if list.cursor.is_none() {
        rest["page"] = page.into();
        rest["pages"] = pages.into();
    }
    for (key, value) in rest.as_object().into_iter().flatten() {
        out.push(b',');
        let _ = serde_json::to_writer(&mut out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, value);
    }
    out.push(b'}');
    Ok(stored_bytes(out))
}
