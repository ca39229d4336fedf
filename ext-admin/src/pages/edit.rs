//! One row: its detail page, the create and edit forms (errors beside
//! their fields, what was typed kept, the row's version carried so a save
//! over someone else's newer change shows both instead of overwriting),
//! and deletion after a confirmation that lists the rows referring to it.
//!
//! One file: the detail page, the forms and the delete confirmation share
//! the row loader and the form renderer.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use http::StatusCode;
use phial_orm::meta::json::FieldError;
use sea_orm::Condition;
use serde_json::{Value as Json, json};

use super::cells::{cell, text_of};
use super::reach::scope;
use super::related::{foreign, related_labels};
use super::write_failed::{db_message, write_failed};
use super::{Ctx, key_segment, pairs, parse_key, value};
use crate::access::Permission;
use crate::audit_entries::label_of;
use crate::form::{self, Foreign};
use crate::model::{AdminModel, Row, WriteError, json_key, version_of};

/// The model and the row at `key`, within the user's reach.
async fn load(
    ctx: &Ctx,
    slug: &str,
    key: &str,
    p: Permission,
) -> Result<(std::sync::Arc<dyn AdminModel>, Json, Condition, Row), Response> {
    let m = ctx.model(slug, p)?;
    let not_found = || {
        ctx.error(
            StatusCode::NOT_FOUND,
            &format!(
                "No {} with key `{key}` (or it is out of your reach).",
                m.spec().singular
            ),
        )
    };
    let k = parse_key(&*m, key).ok_or_else(not_found)?;
    if !phial_orm::query::key::is_canonical(&m.spec().meta, key) {
        // A link in an older form (`[7,2]`, `007`): the row's page in the
        // one form.
        let url = ctx
            .reg
            .url(&format!("{}/{}/", m.spec().slug, key_segment(&k)));
        return Err(axum::response::IntoResponse::into_response(
            axum::response::Redirect::permanent(&url),
        ));
    }
    let cond = m.key_condition(&k).map_err(|_| not_found())?;
    let cond = scope(ctx, &*m, cond);
    let row = m
        .fetch(ctx.db.conn(), cond.clone(), &[], 0, 1)
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
        .pop()
        .ok_or_else(not_found)?;
    Ok((m, k, cond, row))
}

fn urls(ctx: &Ctx, m: &dyn AdminModel, key: &Json) -> Json {
    let spec = m.spec();
    let seg = key_segment(key);
    let base = ctx.reg.url(&format!("{}/{seg}/", spec.slug));
    json!({
        "list": ctx.reg.url(&format!("{}/", spec.slug)),
        "detail": base,
        "edit": (spec.can.edit && ctx.may(m, Permission::Change)).then(|| format!("{base}edit")),
        "delete": ctx.may(m, Permission::Delete).then(|| format!("{base}delete")),
        "history": format!("{base}history"),
        "key_json": key.to_string(),
    })
}

/// `GET /admin/{model}/{key}/`
pub(crate) async fn detail(
    ctx: Ctx,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (m, k, _, row) = load(&ctx, &slug, &key, Permission::View).await?;
    let spec = &ctx.spec(&*m);
    let mut fields = Vec::new();
    for f in spec.meta.visible() {
        let v = row.get(&f.name).cloned().unwrap_or(Json::Null);
        let mut c = cell(f, &v);
        if f.kind == phial_orm::meta::FieldKind::Json || f.kind == phial_orm::meta::FieldKind::Text
        {
            c["text"] = Json::String(match &v {
                Json::String(s) => s.clone(),
                Json::Null => "—".into(),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            });
            c["long"] = Json::Bool(true);
        }
        if let Some((rslug, labels)) =
            related_labels(&ctx, &*m, &f.name, std::slice::from_ref(&row)).await
            && let Some(l) = labels.get(&text_of(&v))
        {
            c["text"] = Json::String(l.clone());
            c["url"] = Json::String(ctx.reg.url(&format!("{rslug}/{}/", key_segment(&v))));
        }
        fields.push(json!({"label": spec.label_of(&f.name), "value": c}));
    }
    let label = label_of(spec, &row);
    Ok(ctx.render(
        "admin/detail.html",
        &spec.slug,
        &label,
        json!({
            "model": {"label": spec.label, "singular": spec.singular, "slug": spec.slug, "table": spec.meta.table},
            "label": label,
            "key": crate::audit_entries::key_text(&k),
            "key_json": k.to_string(),
            "version": version_of(&row),
            "fields": fields,
            "urls": urls(&ctx, &*m, &k),
        }),
    ))
}

/// Foreign-key selects (small related tables) and searches (large ones).
async fn foreign_map(
    ctx: &Ctx,
    m: &dyn AdminModel,
    values: &HashMap<String, String>,
) -> HashMap<String, Foreign> {
    let mut out = HashMap::new();
    for name in m.spec().form_fields() {
        let Some((related, choices)) = foreign(ctx, m, &name).await else {
            continue;
        };
        let current = match (&choices, values.get(&name).filter(|v| !v.is_empty())) {
            (None, Some(v)) => {
                let rspec = related.spec();
                let key = parse_key(&*related, v);
                match key.and_then(|k| related.key_condition(&k).ok()) {
                    Some(cond) => related
                        .fetch(ctx.db.conn(), scope(ctx, &*related, cond), &[], 0, 1)
                        .await
                        .ok()
                        .and_then(|mut r| r.pop())
                        .map(|r| label_of(rspec, &r)),
                    None => None,
                }
            }
            _ => None,
        };
        out.insert(
            name,
            Foreign {
                slug: related.spec().slug.clone(),
                choices,
                current,
            },
        );
    }
    out
}

/// What a create or edit form page is, apart from its values and errors.
struct FormPage {
    title: String,
    action_url: String,
    /// The row's version, when editing.
    version: Option<String>,
    creating: bool,
    urls: Json,
}

async fn form_page(
    ctx: &Ctx,
    m: &dyn AdminModel,
    page: &FormPage,
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
    top_error: Option<String>,
) -> Response {
    let spec = &ctx.spec(m);
    let foreign = foreign_map(ctx, m, values).await;
    let fields = form::fields(spec, values, errors, &foreign, page.creating);
    let status = if errors.is_empty() && top_error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = ctx.render(
        "admin/form.html",
        &spec.slug,
        &page.title,
        json!({
            "model": {"label": spec.label, "singular": spec.singular, "slug": spec.slug, "table": spec.meta.table},
            "fields": fields,
            "action_url": page.action_url,
            "version": page.version,
            "creating": page.creating,
            "error_count": errors.len(),
            "top_error": top_error,
            "urls": page.urls,
        }),
    );
    *r.status_mut() = status;
    r
}

/// The create form of `m`.
fn create_page(ctx: &Ctx, m: &dyn AdminModel) -> FormPage {
    let spec = m.spec();
    FormPage {
        title: format!("Add {}", spec.singular),
        action_url: ctx.reg.url(&format!("{}/new", spec.slug)),
        version: None,
        creating: true,
        urls: json!({"list": ctx.reg.url(&format!("{}/", spec.slug))}),
    }
}

/// The edit form of the row at `key`, loaded at `version`.
fn edit_page(
    ctx: &Ctx,
    m: &dyn AdminModel,
    key: &Json,
    row: &Row,
    version: Option<String>,
) -> FormPage {
    let spec = m.spec();
    FormPage {
        title: format!("Edit {} “{}”", spec.singular, label_of(spec, row)),
        action_url: ctx
            .reg
            .url(&format!("{}/{}/edit", spec.slug, key_segment(key))),
        version,
        creating: false,
        urls: urls(ctx, m, key),
    }
}

/// `GET /admin/{model}/new`
pub(crate) async fn create_form(ctx: Ctx, Path(slug): Path<String>) -> Result<Response, Response> {
    let m = ctx.model(&slug, Permission::Add)?;
    let page = create_page(&ctx, &*m);
    Ok(form_page(&ctx, &*m, &page, &HashMap::new(), &HashMap::new(), None).await)
}

fn merge(parse_errors: Vec<FieldError>, write_errors: Vec<FieldError>) -> Vec<FieldError> {
    let mut all = parse_errors;
    for e in write_errors {
        // A field that did not parse is reported once, by its parse error.
        if !all.iter().any(|p| p.field == e.field) {
            all.push(e);
        }
    }
    all
}

/// `POST /admin/{model}/new`
pub(crate) async fn create(
    ctx: Ctx,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<Response, Response> {
    let m = ctx.model(&slug, Permission::Add)?;
    let spec = &ctx.spec(&*m);
    let form_pairs = pairs(&body);
    let posted = form::parse(spec, &form_pairs, true);
    let page = create_page(&ctx, &*m);
    let errors = merge(posted.errors, m.validate(&posted.values, true));
    if !errors.is_empty() {
        return Err(form_page(
            &ctx,
            &*m,
            &page,
            &posted.raw,
            &form::error_map(&errors),
            None,
        )
        .await);
    }
    let values = posted.values;
    Ok(
        match ctx.write(async |w| w.create(&*m, values).await).await {
            Ok(row) => {
                let key = json_key(&spec.meta, &row);
                let next = if value(&form_pairs, "_another").is_some() {
                    page.action_url.clone()
                } else {
                    ctx.reg
                        .url(&format!("{}/{}/", spec.slug, key_segment(&key)))
                };
                ctx.redirect(
                    &next,
                    "success",
                    &format!("Added {} “{}”.", spec.singular, label_of(spec, &row)),
                )
            }
            Err(WriteError::Fields(errors)) => {
                form_page(
                    &ctx,
                    &*m,
                    &page,
                    &posted.raw,
                    &form::error_map(&errors),
                    None,
                )
                .await
            }
            Err(WriteError::Db(e)) => {
                form_page(
                    &ctx,
                    &*m,
                    &page,
                    &posted.raw,
                    &HashMap::new(),
                    Some(db_message(&e)),
                )
                .await
            }
            Err(e) => write_failed(&ctx, &ctx.reg.url(&format!("{}/", spec.slug)), e),
        },
    )
}

/// `GET /admin/{model}/{key}/edit`
pub(crate) async fn edit_form(
    ctx: Ctx,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (m, k, _, row) = load(&ctx, &slug, &key, Permission::Change).await?;
    if !m.spec().can.edit {
        return Err(ctx.error(
            StatusCode::FORBIDDEN,
            "Editing is switched off for this model.",
        ));
    }
    let spec = &ctx.spec(&*m);
    let values = form::row_values(spec, &row);
    let page = edit_page(&ctx, &*m, &k, &row, Some(version_of(&row)));
    Ok(form_page(&ctx, &*m, &page, &values, &HashMap::new(), None).await)
}

/// `POST /admin/{model}/{key}/edit`
pub(crate) async fn edit(
    ctx: Ctx,
    Path((slug, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let (m, k, cond, row) = load(&ctx, &slug, &key, Permission::Change).await?;
    let spec = &ctx.spec(&*m);
    if !spec.can.edit {
        return Err(ctx.error(
            StatusCode::FORBIDDEN,
            "Editing is switched off for this model.",
        ));
    }
    let form_pairs = pairs(&body);
    let version = value(&form_pairs, "_version").map(str::to_owned);
    let posted = form::parse(spec, &form_pairs, false);
    let page = edit_page(&ctx, &*m, &k, &row, version.clone());
    let url = page.action_url.clone();
    let errors = merge(posted.errors, m.validate(&posted.values, false));
    // What was typed, over the row (read-only fields show the row's).
    let mut shown = form::row_values(spec, &row);
    shown.extend(posted.raw.clone());
    if !errors.is_empty() {
        return Err(form_page(&ctx, &*m, &page, &shown, &form::error_map(&errors), None).await);
    }
    let values = posted.values.clone();
    let written = ctx
        .write(async |w| w.update(&*m, cond, values, version.clone(), "change").await)
        .await;
    Ok(match written {
        Ok((before, after)) => {
            let next = if value(&form_pairs, "_continue").is_some() {
                url
            } else {
                ctx.reg.url(&format!("{}/{}/", spec.slug, key_segment(&k)))
            };
            let message = if before == after {
                "No changes to save.".to_owned()
            } else {
                format!("Saved {} “{}”.", spec.singular, label_of(spec, &after))
            };
            ctx.redirect(&next, "success", &message)
        }
        Err(WriteError::Conflict(current)) => {
            let theirs = form::row_values(spec, &current);
            let fields: Vec<Json> = spec
                .form_fields()
                .iter()
                .filter(|n| spec.writable(n))
                .map(|n| {
                    let t = theirs.get(n).cloned().unwrap_or_default();
                    let y = posted.raw.get(n).cloned().unwrap_or_default();
                    json!({"name": n, "label": spec.label_of(n), "theirs": t, "yours": y, "differs": t != y})
                })
                .collect();
            let mut r = ctx.render(
                "admin/conflict.html",
                &spec.slug,
                "Changed meanwhile",
                json!({
                    "model": {"label": spec.label, "singular": spec.singular, "slug": spec.slug},
                    "label": label_of(spec, &current),
                    "fields": fields,
                    "version": version_of(&current),
                    "action_url": url,
                    "urls": urls(&ctx, &*m, &k),
                }),
            );
            *r.status_mut() = StatusCode::CONFLICT;
            r
        }
        Err(WriteError::Fields(errors)) => {
            form_page(&ctx, &*m, &page, &shown, &form::error_map(&errors), None).await
        }
        Err(WriteError::Db(e)) => {
            form_page(
                &ctx,
                &*m,
                &page,
                &shown,
                &HashMap::new(),
                Some(db_message(&e)),
            )
            .await
        }
        Err(e) => write_failed(&ctx, &url, e),
    })
}

/// What deleting `rows` of `m` takes with it, by model (the first few by
/// name, linked), found as the delete finds it; or why it would be
/// refused.
pub(crate) async fn cascade_list(
    ctx: &Ctx,
    m: &Arc<dyn AdminModel>,
    rows: &[Row],
) -> Result<Vec<Json>, String> {
    let keys: Vec<Json> = rows.iter().map(|r| json_key(&m.spec().meta, r)).collect();
    let cond = m.keys_condition(&keys).map_err(|e| e.message)?;
    let plan = ctx
        .dry_run(async |w| {
            let whole = m.rows_in(w.tx, cond, keys.len() as u64, false).await?;
            w.plan(m, &whole).await
        })
        .await
        .map_err(super::write_failed::write_message)?;
    let mut out: Vec<Json> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, (Arc<dyn AdminModel>, Vec<Row>)> = HashMap::new();
    for (related, row) in plan.rows {
        let slug = related.spec().slug.clone();
        if !groups.contains_key(&slug) {
            order.push(slug.clone());
        }
        groups
            .entry(slug)
            .or_insert_with(|| (related.clone(), Vec::new()))
            .1
            .push(related.visible(&row));
    }
    for slug in order {
        let Some((related, rows)) = groups.remove(&slug) else {
            continue;
        };
        let rspec = related.spec();
        let items: Vec<Json> = rows
            .iter()
            .take(10)
            .map(|r| {
                let key = json_key(&rspec.meta, r);
                json!({"label": label_of(rspec, r), "url": ctx.reg.url(&format!("{}/{}/", rspec.slug, key_segment(&key)))})
            })
            .collect();
        out.push(json!({"label": rspec.label, "count": rows.len().to_string(), "items": items, "more": rows.len() > items.len()}));
    }
    Ok(out)
}

/// `GET /admin/{model}/{key}/delete`
pub(crate) async fn delete_form(
    ctx: Ctx,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (m, k, _, row) = load(&ctx, &slug, &key, Permission::Delete).await?;
    let spec = m.spec();
    let (related, refused) = match cascade_list(&ctx, &m, std::slice::from_ref(&row)).await {
        Ok(r) => (r, None),
        Err(reason) => (Vec::new(), Some(reason)),
    };
    Ok(ctx.render(
        "admin/delete.html",
        &spec.slug,
        "Delete",
        json!({
            "model": {"label": spec.label, "singular": spec.singular, "slug": spec.slug},
            "label": label_of(spec, &row),
            "related": related,
            "refused": refused,
            "action_url": ctx.reg.url(&format!("{}/{}/delete", spec.slug, key_segment(&k))),
            "urls": urls(&ctx, &*m, &k),
        }),
    ))
}

/// `POST /admin/{model}/{key}/delete`
pub(crate) async fn delete(
    ctx: Ctx,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (m, k, cond, row) = load(&ctx, &slug, &key, Permission::Delete).await?;
    let spec = m.spec();
    let list = ctx.reg.url(&format!("{}/", spec.slug));
    let deleted = ctx
        .write(async |w| w.delete(&m, cond, 1, "delete", true).await)
        .await;
    Ok(match deleted {
        Ok(gone) if gone.is_empty() => ctx.redirect(&list, "warning", "It was already gone."),
        Ok(_) => ctx.redirect(
            &list,
            "success",
            &format!("Deleted {} “{}”.", spec.singular, label_of(spec, &row)),
        ),
        Err(e) => write_failed(
            &ctx,
            &ctx.reg.url(&format!("{}/{}/", spec.slug, key_segment(&k))),
            e,
        ),
    })
}
