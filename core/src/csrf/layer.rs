//! CSRF as a route layer: it runs only for requests that matched a route
//! and method, so unknown routes and methods get their 404/405 first. Safe
//! methods pass straight through without boxing a future.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::{BoxFuture, Either};
use http::Method;
use http::header::CONTENT_TYPE;
use tower::{Layer, Service};

use crate::csrf::{self, CsrfError};
use crate::error::HttpError;
use crate::error::{is_length_limit, too_large};
use crate::session::RequestContext;
use crate::state::AppState;

/// Adds the CSRF check to the handlers of a route. It finds the app's
/// configuration through the request's session, which the core middleware
/// inserted.
#[derive(Clone, Copy)]
pub(crate) struct CsrfLayer;

/// The check for JSON APIs: no form can reach them, so only calls from
/// other origins that carry the session cookie need the token.
#[derive(Clone, Copy)]
pub(crate) struct CrossOriginCsrfLayer;

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CsrfService { inner, forms: true }
    }
}

impl<S> Layer<S> for CrossOriginCsrfLayer {
    type Service = CsrfService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CsrfService {
            inner,
            forms: false,
        }
    }
}

#[derive(Clone)]
pub(crate) struct CsrfService<S> {
    inner: S,
    /// Whether form posts are checked (else only cross-origin calls).
    forms: bool,
}

impl<S> Service<Request> for CsrfService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let Some(session) = RequestContext::session(req.extensions()) else {
            return Either::Left(self.inner.call(req));
        };
        let app = session.app().clone();
        let cfg = &app.core().csrf;
        let skip = !cfg.enabled
            || !is_unsafe(req.method())
            || cfg
                .exempt
                .iter()
                .any(|p| req.uri().path().starts_with(p.as_str()));
        if skip {
            return Either::Left(self.inner.call(req));
        }
        let cross_origin_cookie =
            || cross_origin(&req) && carries_session(&req, &app.core().session.cookie_name);
        if !self.forms && !cross_origin_cookie() {
            return Either::Left(self.inner.call(req));
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let forms = self.forms;
        Either::Right(Box::pin(async move {
            let checked = if forms {
                check_csrf(&app, req).await
            } else {
                check_cross_origin(&app, req)
            };
            match checked {
                Ok(req) => inner.call(req).await,
                Err(e) => Ok(e.into_response()),
            }
        }))
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

enum FormKind {
    UrlEncoded,
    Multipart(String),
    Other,
}

/// Content types a browser form (or a cross-site `fetch` without a CORS
/// preflight) can send; others (JSON) cannot arrive cross-site unless CORS
/// allows it, so they are not checked.
fn form_kind(req: &Request) -> Option<FormKind> {
    let Some(ct) = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(FormKind::Other);
    };
    let essence = crate::extract::content_type(req.headers()).unwrap_or_default();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => Some(FormKind::UrlEncoded),
        "multipart/form-data" => Some(match multer::parse_boundary(ct) {
            Ok(b) => FormKind::Multipart(b),
            Err(_) => FormKind::Other,
        }),
        "text/plain" | "" => Some(FormKind::Other),
        _ => None,
    }
}

async fn check_csrf(app: &AppState, req: Request) -> Result<Request, HttpError> {
    let cfg = &app.core().csrf;
    let Some(kind) = form_kind(&req) else {
        return check_cross_origin(app, req);
    };
    if req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(CsrfError::CrossSite.into());
    }
    let session = RequestContext::session(req.extensions())
        .cloned()
        .ok_or(CsrfError::NoSession)?;
    let header = req
        .headers()
        .get(&cfg.header_name)
        .or_else(|| req.headers().get("x-csrftoken"));
    if let Some(token) = header.and_then(|v| v.to_str().ok()) {
        csrf::verify_token(&session, Some(token))?;
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let bytes = match kind {
        FormKind::Other => Bytes::new(),
        _ => read_body(body, app.core().body_limit).await?,
    };
    let token = match kind {
        FormKind::UrlEncoded => form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == &cfg.field_name)
            .map(|(_, v)| v.into_owned()),
        FormKind::Multipart(boundary) => {
            multipart_field(bytes.clone(), boundary, &cfg.field_name).await
        }
        FormKind::Other => None,
    };
    csrf::verify_token(&session, token.as_deref())?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// JSON and the like: a page on another origin can send them only where
/// `[cors]` lets it, and then, if the browser sends the session cookie
/// along, the call must carry the token (header) as well.
fn check_cross_origin(app: &AppState, req: Request) -> Result<Request, HttpError> {
    if !(cross_origin(&req) && carries_session(&req, &app.core().session.cookie_name)) {
        return Ok(req);
    }
    let cfg = &app.core().csrf;
    let session = RequestContext::session(req.extensions())
        .cloned()
        .ok_or(CsrfError::NoSession)?;
    let token = req
        .headers()
        .get(&cfg.header_name)
        .or_else(|| req.headers().get("x-csrftoken"))
        .and_then(|v| v.to_str().ok());
    csrf::verify_token(&session, token)?;
    Ok(req)
}

/// Whether the browser says the request comes from a page of another
/// origin: `Sec-Fetch-Site`, else an `Origin` whose host is not `Host`.
fn cross_origin(req: &Request) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"cross-site" | b"same-site");
    }
    let Some(origin) = req.headers().get(http::header::ORIGIN) else {
        return false;
    };
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    match (origin_host, host) {
        (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
        // `Origin: null` (a sandboxed page, a redirect) or no host to compare.
        _ => true,
    }
}

/// Whether the request carries the session cookie.
fn carries_session(req: &Request, name: &str) -> bool {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| {
            c.trim_start()
                .split_once('=')
                .is_some_and(|(n, _)| n == name)
        })
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, HttpError> {
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b),
        Err(e) if is_length_limit(&e) => Err(too_large(limit)),
        Err(e) => Err(HttpError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

async fn multipart_field(bytes: Bytes, boundary: String, name: &str) -> Option<String> {
    let stream =
        futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}
