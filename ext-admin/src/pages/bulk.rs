//! Bulk delete and bulk actions on the rows selected in a list.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use http::StatusCode;
use sea_orm::Condition;
use serde_json::{Value as Json, json};

use super::list::selection;
use super::reach::scope;
use super::write_failed::write_failed;
use super::{Ctx, key_segment, pairs, parse_key, value};
use crate::access::Permission;
use crate::audit_entries::label_of;
use crate::model::{AdminModel, json_key};

/// Most rows one bulk request touches.
const BULK_LIMIT: u64 = 1000;

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
pub(crate) async fn bulk(
    ctx: Ctx,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<Response, Response> {
    let m = ctx.model(&slug, Permission::View)?;
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
        Err(e) => return Err(ctx.error(StatusCode::BAD_REQUEST, &e)),
    };
    if n == 0 {
        return Ok(ctx.redirect(
            &list_url,
            "warning",
            "Select rows first, then choose an action.",
        ));
    }
    if action == "delete" {
        if !ctx.may(&*m, Permission::Delete) {
            return Err(ctx.error(
                StatusCode::FORBIDDEN,
                &format!("You may not delete {}.", spec.label.to_lowercase()),
            ));
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
            return Err(ctx.render(
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
            ));
        }
        let deleted = ctx
            .write(async |w| w.delete(&m, cond, BULK_LIMIT, "delete", true).await)
            .await;
        return Err(match deleted {
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
        });
    }
    let Some(needs) = m
        .actions()
        .into_iter()
        .find(|(a, _, _)| *a == action)
        .map(|(_, _, needs)| needs)
    else {
        return Err(ctx.error(
            StatusCode::BAD_REQUEST,
            &format!("No action `{action}` on {}.", spec.label.to_lowercase()),
        ));
    };
    if !ctx.may_run(&*m, needs) {
        return Err(ctx.error(
            StatusCode::FORBIDDEN,
            &format!(
                "You may not run this action: it needs the `{}.{}` permission.",
                spec.meta.table,
                needs.word()
            ),
        ));
    }
    let ran = ctx
        .write(async |w| w.run_action(&*m, &action, needs, cond, BULK_LIMIT).await)
        .await;
    Ok(match ran {
        Ok((message, _changed)) => ctx.redirect(&list_url, "success", &message),
        Err(e) => write_failed(&ctx, &list_url, e),
    })
}
