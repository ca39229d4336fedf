//! The dashboard: the models this user may view with their row counts
//! (of the rows they may see), and the latest actions on rows they may see.

use axum::response::{IntoResponse, Redirect, Response};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Ctx;
use super::reach::total;
use crate::access::Permission;
use crate::log;

/// `GET /admin` → `/admin/`
pub(crate) async fn to_slash(ctx: Ctx) -> Response {
    Redirect::permanent(&ctx.reg.url("")).into_response()
}

/// `GET /admin/`
pub(crate) async fn page(ctx: Ctx) -> Response {
    let mut models = Vec::new();
    let mut tables = Vec::new();
    for m in &ctx.reg.models {
        if !ctx.may(&**m, Permission::View) {
            continue;
        }
        let spec = m.spec();
        // A narrowed view never shows the whole table's estimate.
        let cond = super::reach::scope(&ctx, &**m, sea_orm::Condition::all());
        let count = match total(&ctx, &**m, cond, None).await {
            Ok((_, label)) => label,
            Err(e) => {
                tracing::warn!(table = %spec.meta.table, "admin dashboard count: {e}");
                "?".into()
            }
        };
        tables.push(spec.meta.table.clone());
        models.push(serde_json::json!({
            "label": spec.label,
            "url": ctx.reg.url(&format!("{}/", spec.slug)),
            "add_url": ctx.may(&**m, Permission::Add).then(|| ctx.reg.url(&format!("{}/new", spec.slug))),
            "count": count,
        }));
    }
    let recent = log::Entity::find()
        .filter(log::Column::TableName.is_in(tables))
        .order_by_desc(log::Column::Id)
        .limit(10)
        .all(ctx.db.conn())
        .await
        .unwrap_or_default();
    // Entries of rows the user may see now (the log page's rule).
    let recent = super::log::within_reach(&ctx, recent)
        .await
        .unwrap_or_default();
    let recent: Vec<_> = recent
        .iter()
        .map(|e| super::log::entry_json(&ctx, e))
        .collect();
    ctx.render(
        "admin/dashboard.html",
        "(dashboard)",
        "Dashboard",
        serde_json::json!({"models": models, "recent": recent}),
    )
}
