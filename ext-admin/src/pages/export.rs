//! CSV export of a filtered list, streamed in keyset chunks.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use sea_orm::Condition;
use serde_json::Value as Json;

use super::cells::text_of;
use super::reach::scope;
use super::{Ctx, pairs};
use crate::access::Permission;
use crate::list_query::{self};
use crate::model::{AdminModel, Row};

/// `GET /admin/{model}/export.csv`: the filtered list, every visible
/// field, streamed in chunks (no table is held in memory).
pub(crate) async fn export(
    ctx: Ctx,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let m = ctx.model(&slug, Permission::View)?;
    if !m.spec().can.export {
        return Err(ctx.error(
            StatusCode::FORBIDDEN,
            "Export is switched off for this model.",
        ));
    }
    let spec = ctx.spec(&*m);
    let q_pairs = pairs(query.unwrap_or_default().as_bytes());
    if let Some(new) = list_query::legacy(&spec, &q_pairs) {
        let url = phial_orm::query::link(
            &ctx.reg.url(&format!("{}/export.csv", spec.slug)),
            &new,
            &[],
            &[],
        );
        return Ok(Redirect::permanent(&url).into_response());
    }
    let per_page = spec.per_page.unwrap_or(ctx.reg.cfg.per_page);
    let lq = list_query::parse(&spec, per_page, &q_pairs)
        .map_err(|e| ctx.error(StatusCode::BAD_REQUEST, e.message()))?;
    let cond = match m.condition(&lq, &spec.search) {
        Ok(c) => scope(&ctx, &*m, c),
        Err(e) => return Err(ctx.error(StatusCode::BAD_REQUEST, e.message())),
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
        sort: list_query::order_of(&lq),
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
    Ok((
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
        .into_response())
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
