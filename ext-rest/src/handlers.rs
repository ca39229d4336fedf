//! The generated handlers: list, get, create, replace, update, delete and
//! bulk create, generic over the entity. Each one recognises the caller
//! (guard), asks the policy, and answers problems as problem+json.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use phial_core::AppState;
use phial_orm::Db;
use phial_orm::meta::ModelMeta;
use phial_orm::meta::json::{self, WriteMode};
use phial_orm::policy::{Action, Decision};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect,
};
use serde_json::{Map, Value as Json, json};

use crate::access::{self, Access, authorize};
use crate::cached::{self, Stored};
use crate::etag;
use crate::problem::{Problem, ProblemField};
use crate::resource::{RestEntity, Shared};
use phial_orm::query::{self, ListQuery, Total};

/// A write to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Replace,
    Update,
    Delete,
}

type Result<T> = std::result::Result<T, Problem>;

fn db(app: &AppState) -> Result<Db> {
    Db::from_state(app).ok_or_else(|| Problem::internal(&"phial-rest needs the `Orm` extension"))
}

/// The JSON body of a write: `application/json` only (a form or plain
/// text is what another site could make a browser send).
async fn json_body(s: &Shared, body: Body, limit: usize, parts: &Parts) -> Result<Json> {
    let bytes = body_bytes(s, body, limit, parts).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))
}

/// The bytes of a JSON body (see [`json_body`]).
async fn body_bytes(s: &Shared, body: Body, limit: usize, parts: &Parts) -> Result<Bytes> {
    let json = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|t| {
            t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
        });
    if !json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "send `{}` rows as JSON, with `Content-Type: application/json`",
                s.meta.table
            ),
        ));
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes (config key `body_limit`)"),
        )
    })
}

/// The caller's access, the database and the JSON body of a write.
async fn write_input(
    s: &Shared,
    app: &AppState,
    parts: &Parts,
    body: Body,
    action: Action,
) -> Result<(Access, Db, Json)> {
    let access = authorize(s, parts, app, action).await?;
    let db = db(app)?;
    let body = json_body(s, body, app.core().body_limit, parts).await?;
    Ok((access, db, body))
}

/// A body ready to send or keep: its JSON text and strong ETag.
fn stored_bytes(bytes: Vec<u8>) -> Stored {
    let etag = etag::of(&bytes).to_str().unwrap_or_default().to_owned();
    // serde_json writes UTF-8.
    let body = String::from_utf8(bytes).unwrap_or_default();
    Stored { etag, body }
}

/// One row as the JSON text clients get (the fields `meta` shows).
fn item_bytes<E: EntityTrait>(meta: &ModelMeta, model: &E::Model) -> Stored {
    let mut out = Vec::with_capacity(256);
    json::write_json::<E>(meta, model, &mut out);
    stored_bytes(out)
}

/// A JSON response with its ETag, or a 304 when the client has it.
fn respond(status: StatusCode, stored: Stored, if_none_match: Option<&HeaderValue>) -> Response {
    let Ok(tag) = HeaderValue::from_str(&stored.etag) else {
        return Problem::internal(&"an ETag that is not a header value").into_response();
    };
    if status == StatusCode::OK && etag::none_match(if_none_match, &tag) {
        return (StatusCode::NOT_MODIFIED, [(ETAG, tag)]).into_response();
    }
    let mut res = (status, stored.body).into_response();
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ETAG, tag);
    res
}

/// The key text of a row's URL in one spelling (`007` is `7`), so the
/// cache and the change feed name a row alike; `None` when it cannot be
/// a key.
fn canonical_id(s: &Shared, id: &str) -> Option<String> {
    let parts: Vec<&str> = if s.meta.primary_key.len() == 1 {
        vec![id]
    } else {
        id.split(',').collect()
    };
    if parts.len() != s.meta.primary_key.len() {
        return None;
    }
    let mut out = Vec::with_capacity(parts.len());
    for (name, raw) in s.meta.primary_key.iter().zip(parts) {
        let field = s.meta.field(name)?;
        out.push(match field.kind {
            phial_orm::meta::FieldKind::Integer => raw.parse::<i64>().ok()?.to_string(),
            _ => raw.to_owned(),
        });
    }
    Some(out.join(","))
}

/// The row `id` names (a composite key is comma-separated, in key order),
/// as a condition on the key columns.
fn key_condition<E: EntityTrait>(s: &Shared, id: &str) -> Result<Condition> {
    let parts: Vec<&str> = if s.meta.primary_key.len() == 1 {
        vec![id]
    } else {
        id.split(',').collect()
    };
    if parts.len() != s.meta.primary_key.len() {
        return Err(Problem::not_found(&s.meta.table));
    }
    let mut cond = Condition::all();
    for (name, raw) in s.meta.primary_key.iter().zip(parts) {
        let field = s
            .meta
            .field(name)
            .ok_or_else(|| Problem::internal(&format!("primary key `{name}` is not a field")))?;
        let typed = match field.kind {
            phial_orm::meta::FieldKind::Integer => match raw.parse::<i64>() {
                Ok(n) => Json::from(n),
                Err(_) => return Err(Problem::not_found(&s.meta.table)),
            },
            _ => Json::String(raw.to_owned()),
        };
        let (col, value) = query::compare_value::<E>(field, &typed)
            .map_err(|_| Problem::not_found(&s.meta.table))?;
        cond = cond.add(col.eq(value));
    }
    Ok(cond)
}

fn item_id(parts: &Parts, s: &Shared) -> String {
    let path = parts.uri.path();
    let tail = path
        .strip_prefix(s.collection.as_str())
        .unwrap_or(path)
        .trim_start_matches('/');
    percent_decode(tail)
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Finds one row the caller may reach (`rows`: the decision's filter).
async fn find<E: EntityTrait>(
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
    match key {
        Json::Array(values) => values.iter().map(key_text).collect::<Vec<_>>().join(","),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

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

async fn list_inner<E>(s: &Shared, app: &AppState, parts: &Parts) -> Result<Response>
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

async fn load_list<E>(
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
    let narrowed = (!cond.is_empty()).then(|| query::filtered(E::find(), &cond));
    let total = query::count::total(db.conn(), &s.meta.table, narrowed, s.count_limit)
        .await
        .map_err(|e| Problem::from_db(&s.meta, e.into()))?;
    let per_page = list.per_page;
    let mut select = query::filtered(E::find(), &cond);
    if let Some(cursor) = &list.cursor {
        select = select.filter(query::after_cursor::<E>(&s.meta, list, cursor)?);
    }
    select = query::ordered(select, &list.order)?;
    let page = list.page_number();
    let pages = total.number().div_ceil(per_page).max(1);
    if list.cursor.is_none() {
        // A page past the last is empty (its `last` link says where the
        // rows end); one past any table a database can count is a 400.
        select = select.offset(list.offset()?);
    }
    // One row more than the page says whether another page follows.
    let mut rows = select
        .limit(per_page + 1)
        .all(db.conn())
        .await
        .map_err(|e| Problem::from_db(&s.meta, e.into()))?;
    let more = rows.len() as u64 > per_page;
    rows.truncate(per_page as usize);
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

pub(crate) async fn get<E: RestEntity>(s: Arc<Shared>, app: AppState, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let result = async {
        let access = authorize(&s, &parts, &app, Action::Read).await?;
        let shown = access::visible(&s, &access.decision);
        let meta = shown.as_ref().map_or(&s.meta, |(m, _)| m);
        let id = canonical_id(&s, &item_id(&parts, &s))
            .ok_or_else(|| Problem::not_found(&s.meta.table))?;
        let stored = cached::read(&s, &app, &access, cached::Read::Item(&id), || async {
            let db = db(&app)?;
            let model = find::<E>(&s, &db, access.decision.rows.as_ref(), &id).await?;
            Ok(item_bytes::<E>(meta, &model))
        })
        .await?;
        Ok::<_, Problem>(respond(
            StatusCode::OK,
            stored,
            parts.headers.get(IF_NONE_MATCH),
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// What a write's transaction fails with: the database, or the policy.
enum TxError {
    Db(phial_orm::OrmError),
    Refused(Problem),
}

impl From<phial_orm::OrmError> for TxError {
    fn from(e: phial_orm::OrmError) -> Self {
        TxError::Db(e)
    }
}

impl From<sea_orm::DbErr> for TxError {
    fn from(e: sea_orm::DbErr) -> Self {
        TxError::Db(e.into())
    }
}

impl TxError {
    fn problem(self, s: &Shared) -> Problem {
        match self {
            TxError::Db(e) => Problem::from_db(&s.meta, e),
            TxError::Refused(p) => p,
        }
    }
}

/// The condition naming the row `model` is.
fn model_key<E: RestEntity>(s: &Shared, model: &E::Model) -> Result<Condition> {
    key_condition::<E>(s, &key_text(&json::key_of::<E>(&s.meta, model)))
}

pub(crate) async fn create<E>(s: Arc<Shared>, app: AppState, req: Request) -> Response
where
    E: RestEntity,
{
    let (parts, body) = req.into_parts();
    let result = async {
        let (access, db, body) = write_input(&s, &app, &parts, body, Action::Create).await?;
        let shown = access::visible(&s, &access.decision);
        let meta = shown.as_ref().map_or(&s.meta, |(m, _)| m);
        let mut model = <E::ActiveModel as ActiveModelTrait>::default();
        json::apply::<E>(&s.meta, &mut model, &body, WriteMode::Create)
            .map_err(|errors| Problem::invalid(errors.into_iter().map(ProblemField::from)))?;
        // The row as created must be one the caller may write: checked in
        // the insert's transaction, rolled back when it is not.
        let rows = access.decision.rows.clone();
        let saved = db
            .transaction(async |tx| {
                let saved = tx.insert(model).await?;
                if let Some(rows) = &rows {
                    let key = model_key::<E>(&s, &saved).map_err(TxError::Refused)?;
                    if !access::inside::<E, _>(&**tx, key, rows).await? {
                        return Err(TxError::Refused(access::outside(&s, Action::Create, true)));
                    }
                }
                Ok::<_, TxError>(saved)
            })
            .await
            .map_err(|e| e.problem(&s))?;
        let key = json::key_of::<E>(&s.meta, &saved);
        let mut res = respond(StatusCode::CREATED, item_bytes::<E>(meta, &saved), None);
        let location = format!("{}/{}", s.collection, key_text(&key));
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert(LOCATION, v);
        }
        Ok::<_, Problem>(res)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn write<E>(s: Arc<Shared>, app: AppState, req: Request, write: Write) -> Response
where
    E: RestEntity,
{
    let (parts, body) = req.into_parts();
    let result = async {
        let action = if write == Write::Delete {
            Action::Delete
        } else {
            Action::Change
        };
        let access = authorize(&s, &parts, &app, action).await?;
        // The row must exist for the caller (their read filter: else a
        // 404) and be one they may write (else a 403).
        let read = s
            .policy(&app)
            .decide(&access.caller, &s.meta.table, Action::Read);
        let shown = access::visible(&s, &read);
        let meta = shown.as_ref().map_or(&s.meta, |(m, _)| m);
        let db = db(&app)?;
        let body = match write {
            Write::Delete => None,
            _ => Some(json_body(&s, body, app.core().body_limit, &parts).await?),
        };
        let current = find::<E>(&s, &db, read.rows.as_ref(), &item_id(&parts, &s)).await?;
        let key = model_key::<E>(&s, &current)?;
        let rows = access.decision.rows.clone();
        if let Some(rows) = &rows
            && !access::inside::<E, _>(db.conn(), key.clone(), rows)
                .await
                .map_err(|e| Problem::from_db(&s.meta, e.into()))?
        {
            return Err(access::outside(&s, action, false));
        }
        let current_tag = HeaderValue::from_str(&item_bytes::<E>(meta, &current).etag)
            .map_err(|e| Problem::internal(&e))?;
        if !etag::match_allows(parts.headers.get(IF_MATCH), &current_tag) {
            return Err(Problem::new(
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "the `{}` row changed since you read it (its ETag is now {}): read it again and retry",
                    s.meta.table,
                    current_tag.to_str().unwrap_or_default()
                ),
            ));
        }
        let Some(body) = body else {
            // Rows that refer to this one would go with it (a database
            // cascade) or block it: named, unless the resource cascades.
            if !s.cascade {
                let row = json::to_json::<E>(&s.meta, &current);
                let refs = access::dependants(
                    db.conn(),
                    &s.meta,
                    &json::key_of::<E>(&s.meta, &current),
                    &row,
                )
                .await
                .map_err(|e| Problem::from_db(&s.meta, e.into()))?;
                if !refs.is_empty() {
                    return Err(access::refused_cascade(&s, &refs));
                }
            }
            db.delete(current.into_active_model())
                .await
                .map_err(|e| Problem::from_db_delete(&s.meta, e))?;
            if s.cascade {
                // What the database deleted with it: every row of those
                // tables is stale for caches and watchers.
                for rel in s.meta.relations.iter().filter(|r| {
                    matches!(
                        r.kind,
                        phial_orm::meta::RelationKind::HasMany | phial_orm::meta::RelationKind::HasOne
                    )
                }) {
                    db.publish(phial_core::changes::Change::delete(rel.table.clone(), []))
                        .await;
                }
            }
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        let mode = if write == Write::Replace {
            WriteMode::Replace
        } else {
            WriteMode::Patch
        };
        let mut model = current.clone().into_active_model();
        json::apply::<E>(&s.meta, &mut model, &body, mode)
            .map_err(|errors| Problem::invalid(errors.into_iter().map(ProblemField::from)))?;
        if !model.is_changed() {
            return Ok(respond(StatusCode::OK, item_bytes::<E>(meta, &current), None));
        }
        // The row as changed must still be one the caller may write.
        let saved = db
            .transaction(async |tx| {
                let saved = tx.update(model).await?;
                if let Some(rows) = &rows {
                    let key = model_key::<E>(&s, &saved).map_err(TxError::Refused)?;
                    if !access::inside::<E, _>(&**tx, key, rows).await? {
                        return Err(TxError::Refused(access::outside(&s, action, true)));
                    }
                }
                Ok::<_, TxError>(saved)
            })
            .await
            .map_err(|e| e.problem(&s))?;
        Ok(respond(StatusCode::OK, item_bytes::<E>(meta, &saved), None))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn bulk<E>(s: Arc<Shared>, app: AppState, req: Request) -> Response
where
    E: RestEntity,
{
    let (parts, body) = req.into_parts();
    let result = async {
        let access = authorize(&s, &parts, &app, Action::Create).await?;
        let db = db(&app)?;
        let bytes = body_bytes(&s, body, app.core().body_limit, &parts).await?;
        // Rows go straight from the JSON text into models (no value tree).
        let plan = json::Plan::<E>::new(&s.meta);
        let read = match phial_orm::meta::bulk::read_rows(&plan, &bytes, s.bulk_limit) {
            Ok(read) => read,
            Err(phial_orm::meta::bulk::BulkError::TooMany { limit }) => {
                return Err(Problem::invalid([ProblemField {
                    index: None,
                    field: String::new(),
                    code: "too_many_rows".into(),
                    message: format!(
                        "more than {limit} rows in one bulk create (config key `rest.bulk_limit`)"
                    ),
                }]));
            }
            Err(e) => return Err(Problem::bad_request(e.to_string())),
        };
        let models = read.models;
        let errors: Vec<ProblemField> = read
            .errors
            .into_iter()
            .map(|(index, e)| ProblemField {
                index: Some(index),
                ..ProblemField::from(e)
            })
            .collect();
        if !errors.is_empty() {
            let mut p = Problem::invalid(errors);
            p = p.with_detail(
                "no row was created: fix the rows listed in `errors` and send the batch again",
            );
            return Err(p);
        }
        // A multi-row insert skips the model's `before_save`; run it here
        // so rows get what a single create would (timestamps, slugs).
        let mut prepared = Vec::with_capacity(models.len());
        for model in models {
            prepared.push(
                model
                    .before_save(db.conn(), true)
                    .await
                    .map_err(|e| Problem::from_db(&s.meta, e.into()))?,
            );
        }
        let created = match &access.decision.rows {
            None => db
                .insert_bulk(prepared)
                .await
                .map_err(|e| Problem::from_db(&s.meta, e))?,
            // Each row as created must be one the caller may write: row by
            // row in one transaction, all or nothing.
            Some(rows) => db
                .transaction(async |tx| {
                    let n = prepared.len();
                    for (index, model) in prepared.into_iter().enumerate() {
                        let saved = tx.insert(model).await?;
                        let key = model_key::<E>(&s, &saved).map_err(TxError::Refused)?;
                        if !access::inside::<E, _>(&**tx, key, rows).await? {
                            let p = access::outside(&s, Action::Create, true);
                            let detail = format!("row {index}: {}; no row was created", p.detail());
                            return Err(TxError::Refused(p.with_detail(detail)));
                        }
                    }
                    Ok::<_, TxError>(n as u64)
                })
                .await
                .map_err(|e| e.problem(&s))?,
        };
        Ok((
            StatusCode::CREATED,
            axum::Json(json!({ "created": created })),
        )
            .into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
