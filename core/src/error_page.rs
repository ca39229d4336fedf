//! Error responses: JSON for API clients, an HTML page for browsers (a
//! template `errors/<status>.html` when the app has one), custom handlers per
//! status. In production the reasons of 5xx errors are not shown.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{Html, IntoResponse, Response};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::uri::PathAndQuery;
use http::{Method, StatusCode};
use http_body_util::BodyExt;

use crate::error::HttpError;
use crate::state::AppState;

/// A custom error renderer.
pub type ErrorHandler = Arc<dyn Fn(&ErrorContext<'_>) -> Response + Send + Sync>;

/// Handlers by status.
#[derive(Clone, Default)]
pub(crate) struct ErrorPages {
    pub(crate) handlers: HashMap<StatusCode, ErrorHandler>,
}

/// What a custom error handler gets.
pub struct ErrorContext<'a> {
    app: &'a AppState,
    error: &'a HttpError,
    method: &'a Method,
    path: &'a str,
    wants_html: bool,
    request: &'a ErrorRequest,
}

/// The failed request's session and id, so error templates get the same
/// functions (`get_flashed_messages()`, `csrf_token()`) and `request` as
/// pages.
#[derive(Default)]
pub(crate) struct ErrorRequest {
    pub(crate) session: Option<crate::session::Session>,
    pub(crate) id: Option<http::HeaderValue>,
}

impl ErrorContext<'_> {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.error.status()
    }

    /// The reason (already hidden for 5xx in production).
    pub fn reason(&self) -> &str {
        self.error.reason()
    }

    /// The error with its field messages.
    pub fn error(&self) -> &HttpError {
        self.error
    }

    /// The request path.
    pub fn path(&self) -> &str {
        self.path
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        self.method
    }

    /// Whether the client prefers HTML (a browser).
    pub fn wants_html(&self) -> bool {
        self.wants_html
    }

    /// The app, to render templates or build URLs.
    pub fn app(&self) -> &AppState {
        self.app
    }

    /// Templates for this request, with the same functions and `request`
    /// context as a handler's [`Templates`](crate::Templates).
    pub fn templates(&self) -> crate::Templates {
        crate::Templates::for_request(
            self.app.clone(),
            self.request.session.clone(),
            self.method.as_str(),
            self.path,
            self.request
                .id
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        )
    }
}

/// Request facts kept for rendering an error after the handler ran.
pub(crate) struct RequestFacts {
    pub(crate) method: Method,
    /// Path and query only (a full `Uri` would make every request's
    /// future larger).
    pub(crate) path_and_query: Option<PathAndQuery>,
    pub(crate) wants_html: bool,
}

impl RequestFacts {
    pub(crate) fn path(&self) -> &str {
        self.path_and_query.as_ref().map_or("/", PathAndQuery::path)
    }

    pub(crate) fn empty() -> Self {
        RequestFacts {
            method: Method::GET,
            path_and_query: None,
            wants_html: false,
        }
    }
}

/// Whether the client asked for HTML (a browser) rather than JSON. Runs
/// on every request, so it searches the bytes without decoding them.
pub(crate) fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .is_some_and(|v| v.as_bytes().windows(9).any(|w| w == b"text/html"))
}

/// Largest framework error body read back to become the reason.
const MAX_REASON: usize = 1024;

/// Turns an error response into the right page; leaves everything else.
pub(crate) async fn finalize(
    app: &AppState,
    res: Response,
    facts: &RequestFacts,
    request: ErrorRequest,
) -> Response {
    let status = res.status();
    if status.as_u16() < 400 {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let mut error = match parts.extensions.remove::<HttpError>() {
        Some(e) => e,
        None => {
            let plain = parts
                .headers
                .get(CONTENT_TYPE)
                .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
            if !plain {
                return Response::from_parts(parts, body);
            }
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                // A body that outgrew the limit while streaming (axum says
                // only "length limit exceeded").
                crate::error::too_large(app.core().body_limit)
            } else {
                let text = match http_body_util::Limited::new(body, MAX_REASON)
                    .collect()
                    .await
                {
                    Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_owned(),
                    Err(_) => String::new(),
                };
                let reason = if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_owned()
                } else {
                    text
                };
                HttpError::new(status, reason)
            }
        }
    };
    if status.is_server_error() {
        tracing::error!(%status, reason = error.reason(), method = %facts.method, path = facts.path(), "server error");
        if !app.core().debug {
            error = HttpError::new(
                status,
                "the server could not complete the request; the error is logged",
            );
        }
    }
    let ctx = ErrorContext {
        app,
        error: &error,
        method: &facts.method,
        path: facts.path(),
        wants_html: facts.wants_html,
        request: &request,
    };
    let mut rendered = match app.0.error_pages.handlers.get(&status) {
        Some(handler) => handler(&ctx),
        None if ctx.wants_html => html_page(&ctx),
        None => (status, axum::Json(error.to_json())).into_response(),
    };
    // Keep what the original response said beyond its body (Allow, Retry-After...).
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    for (name, value) in parts.headers.iter() {
        if !rendered.headers().contains_key(name) {
            rendered.headers_mut().append(name.clone(), value.clone());
        }
    }
    rendered.extensions_mut().insert(error);
    rendered
}

fn html_page(ctx: &ErrorContext<'_>) -> Response {
    let status = ctx.status();
    let templates = ctx.app.templates();
    for name in [
        format!("errors/{}.html", status.as_u16()),
        "errors/error.html".to_owned(),
    ] {
        if templates.env().get_template(&name).is_ok() {
            let rendered = ctx.templates().render_string(
                &name,
                minijinja::context! {
                    status => status.as_u16(),
                    title => status.canonical_reason().unwrap_or("Error"),
                    reason => ctx.reason(),
                    fields => ctx.error().fields(),
                },
            );
            // A failing error template is logged (by `render_string`) and
            // the built-in page is shown instead.
            if let Ok(html) = rendered {
                return (status, Html(html)).into_response();
            }
        }
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let mut fields = String::new();
    for (field, messages) in ctx.error().fields() {
        for m in messages {
            fields.push_str(&format!("<li><b>{}</b>: {}</li>", escape(field), escape(m)));
        }
    }
    if !fields.is_empty() {
        fields = format!("<ul>{fields}</ul>");
    }
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{code} {title}</title></head>\
         <body><h1>{code} {title}</h1><p>{reason}</p>{fields}</body></html>",
        code = status.as_u16(),
        reason = escape(ctx.reason()),
    );
    (status, Html(html)).into_response()
}

/// Escapes text for HTML (minijinja's escaper, as templates do).
pub(crate) fn escape(s: &str) -> String {
    minijinja::HtmlEscape(s).to_string()
}

/// The 500 for a panic; the message is shown in debug mode only.
pub(crate) fn panic_response(payload: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let message = panic_message(payload.as_ref());
    tracing::error!("handler panicked: {message}");
    HttpError::internal(format!("handler panicked: {message}")).into_response()
}

/// The 500 for a panic while rendering an error (a custom handler or an
/// error template): plain text, with nothing of the app's own rendering.
pub(crate) fn plain_panic_response(
    payload: Box<dyn std::any::Any + Send + 'static>,
) -> Response<Body> {
    let message = panic_message(payload.as_ref());
    tracing::error!("rendering an error page panicked: {message}");
    let mut res = Response::new(Body::from("500 Internal Server Error: the error is logged"));
    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    res.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// A caught panic's message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_owned())
}
