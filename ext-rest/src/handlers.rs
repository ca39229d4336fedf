//! The generated row handlers: get, create, replace, update, delete and
//! bulk create, generic over the entity. Each one recognises the caller
//! (guard), asks the policy, and answers problems as problem+json.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::{IF_MATCH, IF_NONE_MATCH, LOCATION};
use http::{HeaderValue, StatusCode};
use phial_core::AppState;
use phial_orm::Db;
use phial_orm::meta::json::{self, WriteMode};
use phial_orm::policy::Action;
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, IntoActiveModel};
use serde_json::json;

use crate::access::{self, authorize};
use crate::cached::{self};
use crate::etag;
use crate::problem::{Problem, ProblemField};
use crate::resource::{RestEntity, Shared};

use crate::body::{body_bytes, json_body, write_input};
use crate::respond::{item_bytes, respond};
use crate::row_key::{canonical_id, find, item_id, key_text, model_key};

/// A write to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Replace,
    Update,
    Delete,
}

pub(crate) type Result<T> = std::result::Result<T, Problem>;
pub(crate) fn db(app: &AppState) -> Result<Db> {
    Db::from_state(app).ok_or_else(|| Problem::internal(&"phial-rest needs the `Orm` extension"))
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
            // What the database deletes with it (a cascade): every row of
            // those tables is stale for caches and watchers.
            let cascaded: Vec<_> = s
                .meta
                .relations
                .iter()
                .filter(|r| {
                    s.cascade
                        && matches!(
                            r.kind,
                            phial_orm::meta::RelationKind::HasMany
                                | phial_orm::meta::RelationKind::HasOne
                        )
                })
                .map(|rel| phial_core::changes::Change::delete(rel.table.clone(), []))
                .collect();
            db.changes()
                .prepare_all(&cascaded)
                .await
                .map_err(|e| Problem::from_db(&s.meta, e.into()))?;
            db.delete(current.into_active_model())
                .await
                .map_err(|e| Problem::from_db_delete(&s.meta, e))?;
            for change in cascaded {
                db.publish(change).await;
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
