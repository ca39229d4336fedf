//! Sign in and out, through `phial::auth` (realm `staff`): the password
//! check is throttled before any hashing, per name and address and per
//! address, with growing delays (the page says when to try again, with
//! `Retry-After`); a throttled attempt is refused even with the right
//! password. Signing out ends the sign-in everywhere it is used.

use std::sync::Arc;

use axum::extract::{RawQuery, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use phial_auth::{Accounts, AuthError, Remember};
use phial_core::{AppState, HttpError, Session, Templates};

use super::{Registry, pairs, value};
use crate::access::{STAFF_REALM, Staff};

fn registry(app: &AppState) -> Result<Arc<Registry>, Response> {
    app.get::<Arc<Registry>>()
        .cloned()
        .ok_or_else(|| HttpError::internal("the admin's registry is missing").into_response())
}

/// Where to go after signing in: a path inside the panel only (never
/// another site).
fn safe_next(reg: &Registry, next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with(&reg.cfg.prefix)
                && !n.starts_with("//")
                && !n.contains("\\")
                && !n.starts_with(&format!("{}/login", reg.cfg.prefix)) =>
        {
            n.to_owned()
        }
        _ => format!("{}/", reg.cfg.prefix),
    }
}

fn login_page(
    tpl: &Templates,
    reg: &Registry,
    status: StatusCode,
    error: Option<String>,
    username: &str,
    next: &str,
) -> Response {
    let page = tpl.render(
        "admin/login.html",
        serde_json::json!({
            "admin": {"title": reg.title, "prefix": reg.cfg.prefix},
            "page_title": "Sign in",
            "error": error,
            "username": username,
            "next": next,
        }),
    );
    match page {
        Ok(html) => (status, html).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /admin/login`
pub(crate) async fn form(
    State(app): State<AppState>,
    tpl: Templates,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let reg = registry(&app)?;
    let q = pairs(query.unwrap_or_default().as_bytes());
    let next = safe_next(&reg, value(&q, "next"));
    let signed_in = phial_core::identity::of(&session)
        .await
        .is_ok_and(|who| who.get(STAFF_REALM).is_some());
    if signed_in && value(&q, "next").is_none() {
        return Ok(Redirect::to(&next).into_response());
    }
    Ok(login_page(&tpl, &reg, StatusCode::OK, None, "", &next))
}

/// `POST /admin/login`
pub(crate) async fn sign_in(
    State(app): State<AppState>,
    tpl: Templates,
    session: Session,
    accounts: Accounts<Staff>,
    req: Request,
) -> Result<Response, Response> {
    let reg = registry(&app)?;
    let limit = app.core().body_limit;
    let Ok(body) = axum::body::to_bytes(req.into_body(), limit).await else {
        return Err(HttpError::bad_request("the form is too large").into_response());
    };
    let form = pairs(&body);
    let username = value(&form, "username").unwrap_or("").trim().to_owned();
    let password = value(&form, "password").unwrap_or("");
    let next = safe_next(&reg, value(&form, "next"));
    let shown: String = username.chars().take(150).collect();
    let refuse =
        |status, message: String| login_page(&tpl, &reg, status, Some(message), &shown, &next);
    if username.is_empty() || password.is_empty() {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your username and password.".into(),
        ));
    }
    let staff = match accounts.verify_password(&username, password).await {
        Ok(staff) => staff,
        Err(e) => {
            let message = match &e {
                AuthError::Invalid => {
                    "Wrong username or password (names are case-sensitive).".to_owned()
                }
                AuthError::Throttled { .. } => format!(
                    "Too many sign-in attempts. Try again in {} seconds.",
                    e.retry_after().unwrap_or(1)
                ),
                other => format!("{other}."),
            };
            let mut page = refuse(e.status(), message);
            if let Some(secs) = e.retry_after() {
                page.headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
            }
            return Err(page);
        }
    };
    Ok(match accounts.login(&session, &staff, Remember::No).await {
        Ok(()) => Redirect::to(&next).into_response(),
        Err(e) => e.into_response(),
    })
}

/// `POST /admin/logout`: ends this sign-in everywhere it is used (a copy
/// of the cookie signs in nobody; its sockets are disconnected).
pub(crate) async fn sign_out(
    State(app): State<AppState>,
    session: Session,
    accounts: Accounts<Staff>,
) -> Response {
    let prefix = registry(&app)
        .map(|r| r.cfg.prefix.clone())
        .unwrap_or_else(|_| "/admin".into());
    if let Err(e) = accounts.logout(&session).await {
        return e.into_response();
    }
    session.flash_with("success", "You are signed out.");
    Redirect::to(&format!("{prefix}/login")).into_response()
}
