//! Sign in and out. Failed sign-ins are throttled per name and per client
//! address; the page says when to try again, and a throttled attempt is
//! refused even with the right password.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use phial_core::{AppState, HttpError, Session, Templates};
use phial_orm::Db;

use super::{Registry, pairs, value};
use crate::access::{self, CallerSnapshot, SESSION_CALLER, SESSION_SEEN, SESSION_USER, Staff};

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
) -> Response {
    let reg = match registry(&app) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let q = pairs(query.unwrap_or_default().as_bytes());
    let next = safe_next(&reg, value(&q, "next"));
    if session.get::<i32>(SESSION_USER).is_some() && value(&q, "next").is_none() {
        return Redirect::to(&next).into_response();
    }
    login_page(&tpl, &reg, StatusCode::OK, None, "", &next)
}

/// `POST /admin/login`
pub(crate) async fn sign_in(
    State(app): State<AppState>,
    tpl: Templates,
    session: Session,
    req: Request,
) -> Response {
    let reg = match registry(&app) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let limit = app.core().body_limit;
    let Ok(body) = axum::body::to_bytes(req.into_body(), limit).await else {
        return HttpError::bad_request("the form is too large").into_response();
    };
    let form = pairs(&body);
    let username = value(&form, "username").unwrap_or("").trim().to_owned();
    let password = value(&form, "password").unwrap_or("");
    let next = safe_next(&reg, value(&form, "next"));
    let refuse =
        |status, message: String| login_page(&tpl, &reg, status, Some(message), &username, &next);
    if username.is_empty() || password.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your username and password.".into(),
        );
    }
    let mut keys = vec![format!("user:{}", username.to_lowercase())];
    if let Some(ip) = &peer {
        keys.push(format!("ip:{ip}"));
    }
    if let Some(wait) = reg.throttle.blocked(&keys) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-ins. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ),
        );
    }
    let Some(db) = Db::from_state(&app) else {
        return HttpError::internal("the admin needs the Orm extension").into_response();
    };
    let user = match crate::authenticate(&db, &username, password).await {
        Ok(u) => u,
        Err(e) => return HttpError::internal(e.to_string()).into_response(),
    };
    let Some(user) = user else {
        reg.throttle.fail(&keys);
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Wrong username or password (names are case-sensitive).".into(),
        );
    };
    reg.throttle.succeed(&keys[0]);
    let staff = match Staff::load(db.conn(), user.id).await {
        Ok(Some(s)) => s,
        Ok(None) => return refuse(StatusCode::UNAUTHORIZED, "This account is inactive.".into()),
        Err(e) => return HttpError::internal(e.to_string()).into_response(),
    };
    let stored = session
        .insert(SESSION_USER, staff.id)
        .and_then(|()| session.insert(SESSION_SEEN, access::now_secs()))
        .and_then(|()| session.insert(SESSION_CALLER, CallerSnapshot::of(&staff)));
    if let Err(e) = stored {
        return HttpError::internal(e.to_string()).into_response();
    }
    Redirect::to(&next).into_response()
}

/// `POST /admin/logout`
pub(crate) async fn sign_out(State(app): State<AppState>, session: Session) -> Response {
    let prefix = registry(&app)
        .map(|r| r.cfg.prefix.clone())
        .unwrap_or_else(|_| "/admin".into());
    access::sign_out(&session);
    session.flash_with("success", "You are signed out.");
    Redirect::to(&format!("{prefix}/login")).into_response()
}
