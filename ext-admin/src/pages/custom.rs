//! `GET /admin/pages/{page}`: a page registered with `Admin::page`.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::Ctx;

/// Renders the page's body inside the layout.
pub(crate) async fn page(ctx: Ctx, Path(slug): Path<String>) -> Response {
    let Some(p) = ctx.reg.pages.iter().find(|p| p.slug == slug).cloned() else {
        return ctx.error(StatusCode::NOT_FOUND, &format!("No page `{slug}` here."));
    };
    if !p.allowed(&ctx) {
        return ctx.error(StatusCode::FORBIDDEN, "You may not see this page.");
    }
    match (p.render)(ctx.staff.clone(), ctx.app.clone()).await {
        Ok(body) => ctx.render(
            "admin/page.html",
            &format!("pages/{}", p.slug),
            &p.title,
            serde_json::json!({"body": body}),
        ),
        Err(e) => e.into_response(),
    }
}
