//! The core middleware: one pass per request for request ids, the body
//! limit, sessions, caught panics, the request's tracing span, error pages
//! and security headers. One hand-written service instead of seven layers
//! keeps the per-request cost low (see `bench/src/bin/layer-cost.rs`): no
//! boxed future on the success path, nothing allocated for a part that is
//! switched off. CSRF runs closer to the handlers (see `csrf::layer`) so
//! unknown routes and methods get their 404/405 first.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::header::CONTENT_LENGTH;
use http_body::Body as _;
use tower::{Layer, Service};
use tracing::Span;

use crate::error::HttpError;
use crate::error_page::{self, RequestFacts};
use crate::request_id::RequestId;
use crate::session::{RequestContext, Session};
use crate::state::AppState;

/// Gives the request's extensions room for ours beside axum's three
/// (`OriginalUri`, `MatchedPath`, `UrlParams`) so the map is allocated at
/// its final size, instead of at three entries and then rehashed.
fn roomy_extensions(req: &mut Request) {
    #[derive(Clone, Copy)]
    struct Room<const N: u8>;
    static ROOMY: LazyLock<http::Extensions> = LazyLock::new(|| {
        let mut e = http::Extensions::new();
        e.insert(Room::<0>);
        e.insert(Room::<1>);
        e.insert(Room::<2>);
        e.insert(Room::<3>);
        e.insert(Room::<4>);
        // Empty again; a clone keeps the table's size.
        e.clear();
        e
    });
    let old = std::mem::replace(req.extensions_mut(), ROOMY.clone());
    if !old.is_empty() {
        req.extensions_mut().extend(old);
    }
}

/// Tracing target of the per-request span and its completion event.
pub(crate) const TRACE_TARGET: &str = "phial::request";

#[derive(Clone)]
pub(crate) struct CoreLayer(pub(crate) AppState);

impl<S> Layer<S> for CoreLayer {
    type Service = CoreService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CoreService {
            inner,
            app: self.0.clone(),
        }
    }
}

/// Phial's core middleware around a service (see [`crate::AppService`]).
#[derive(Clone)]
pub struct CoreService<S> {
    inner: S,
    app: AppState,
}

/// What the response needs from the request once the handler is done.
struct Post {
    app: AppState,
    facts: RequestFacts,
    /// The request id and session, when either is on.
    context: Option<Session>,
    /// Boxed: present only while a subscriber wants request spans, and
    /// inline it would make every request's future larger.
    span: Option<Box<(Span, Instant)>>,
    /// When the request came in, while metrics are recorded.
    started: Option<Instant>,
}

impl<S> Service<Request> for CoreService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CoreFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let app = &self.app;
        let core = app.core();
        let request_id = core.request_id.enabled.then(|| {
            let id = req
                .headers()
                .get(&app.0.request_id_header)
                .and_then(RequestId::from_client);
            id.unwrap_or_else(RequestId::generate)
        });
        let span = core.trace.then(|| request_span(&req)).flatten();
        let _ids = crate::log_context::enter(request_id.as_ref());
        let sessions = core.session.enabled;
        let metrics = app.0.request_metrics.is_some();
        let started = metrics.then(Instant::now);
        let context = (request_id.is_some() || sessions || metrics).then(|| {
            let headers = sessions.then(|| req.headers());
            Session::for_request(app.clone(), request_id, headers)
        });
        if let Some(context) = &context {
            roomy_extensions(&mut req);
            req.extensions_mut().insert(RequestContext(context.clone()));
        }
        let facts = RequestFacts {
            method: req.method().clone(),
            path_and_query: req.uri().path_and_query().cloned(),
            wants_html: error_page::wants_html(req.headers()),
        };
        let post = Post {
            app: app.clone(),
            facts,
            context,
            span,
            started,
        };
        let state = match limit_body(app, req) {
            Err(e) => Stage::Ready {
                res: Some(e.into_response()),
            },
            Ok(req) => {
                let _entered = post.span.as_ref().map(|b| b.0.enter());
                let inner = &mut self.inner;
                match guarded(core.catch_panics, || inner.call(req)) {
                    Ok(fut) => Stage::Inner { fut },
                    Err(panic) => Stage::Ready {
                        res: Some(error_page::panic_response(panic)),
                    },
                }
            }
        };
        CoreFuture {
            stage: state,
            post: Some(post),
        }
    }
}

/// The request's span, when a subscriber wants DEBUG spans of
/// `phial::request` (RUST_LOG=phial::request=debug; on in development):
/// its "finished" event gives each request's status and time. Nothing is
/// built otherwise. The request id is on every line without it (see
/// `log_context`).
fn request_span(req: &Request) -> Option<Box<(Span, Instant)>> {
    if !tracing::enabled!(target: TRACE_TARGET, tracing::Level::DEBUG) {
        return None;
    }
    let span = tracing::debug_span!(target: TRACE_TARGET, "request", method = %req.method(), path = %req.uri().path());
    Some(Box::new((span, Instant::now())))
}

/// A caught panic's payload.
type Panic = Box<dyn std::any::Any + Send + 'static>;

/// Runs `f`, catching a panic when `catch` is on (the caller turns it into
/// a 500 with `error_page::panic_response`).
fn guarded<T>(catch: bool, f: impl FnOnce() -> T) -> Result<T, Panic> {
    if !catch {
        return Ok(f());
    }
    std::panic::catch_unwind(AssertUnwindSafe(f))
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<F> {
        Inner { #[pin] fut: F },
        Finalize { fut: BoxFuture<'static, (Response, RequestFacts)> },
        Ready { res: Option<Response> },
    }
}

pin_project_lite::pin_project! {
    /// The core service's response future: polls the handler (catching
    /// panics), renders errors (boxed, off the success path), then adds the
    /// session cookie, security headers and the request id.
    pub struct CoreFuture<F> {
        #[pin]
        stage: Stage<F>,
        post: Option<Post>,
    }
}

impl<F> Future for CoreFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _ids = this
            .post
            .as_ref()
            .and_then(|p| crate::log_context::enter(p.context.as_ref()?.request_id()));
        loop {
            let res = match this.stage.as_mut().project() {
                StageProj::Inner { fut } => {
                    let post = this.post.as_ref().expect("polled after completion");
                    let _entered = post.span.as_ref().map(|b| b.0.enter());
                    match guarded(post.app.core().catch_panics, || fut.poll(cx)) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(Ok(res))) => res,
                        Ok(Poll::Ready(Err(never))) => match never {},
                        Err(panic) => error_page::panic_response(panic),
                    }
                }
                StageProj::Finalize { fut } => {
                    // Custom error handlers and error templates are user
                    // code too: a panic there is a plain 500, not a dropped
                    // connection.
                    let catch = this
                        .post
                        .as_ref()
                        .is_some_and(|p| p.app.core().catch_panics);
                    // What the error page logs belongs to the request too.
                    let span = this
                        .post
                        .as_ref()
                        .and_then(|p| p.span.as_ref())
                        .map(|b| b.0.clone());
                    let _entered = span.as_ref().map(Span::enter);
                    let polled = guarded(catch, || fut.as_mut().poll(cx));
                    let res = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready((res, facts))) => {
                            let post = this.post.as_mut().expect("polled after completion");
                            post.facts = facts;
                            res
                        }
                        Err(panic) => error_page::plain_panic_response(panic),
                    };
                    let post = this.post.take().expect("polled after completion");
                    return Poll::Ready(Ok(post.finish(res)));
                }
                StageProj::Ready { res } => res.take().expect("polled after completion"),
            };
            if res.status().as_u16() >= 400 {
                let post = this.post.as_mut().expect("polled after completion");
                let app = post.app.clone();
                let facts = std::mem::replace(&mut post.facts, RequestFacts::empty());
                let session = post.session().cloned();
                let id = post.request_id().cloned();
                let fut = Box::pin(async move {
                    let request = error_page::ErrorRequest { session, id };
                    let res = error_page::finalize(&app, res, &facts, request).await;
                    (res, facts)
                });
                this.stage.set(Stage::Finalize { fut });
                continue;
            }
            let post = this.post.take().expect("polled after completion");
            return Poll::Ready(Ok(post.finish(res)));
        }
    }
}

impl Post {
    fn session(&self) -> Option<&Session> {
        self.context.as_ref().filter(|c| c.is_on())
    }

    fn request_id(&self) -> Option<&http::HeaderValue> {
        let id = self.context.as_ref()?.request_id()?;
        Some(id.header_value())
    }

    fn finish(self, mut res: Response) -> Response {
        let headers = res.headers_mut();
        let id = self.context.as_ref().and_then(Session::request_id);
        // First: it gives the response a new map.
        self.app.0.security_headers.apply(
            headers,
            id.map(|id| (&self.app.0.request_id_header, id.header_value())),
        );
        if let Some(context) = self.context.as_ref().filter(|c| c.is_on()) {
            context.finish(headers);
        }
        if let (Some(started), Some(metrics)) = (self.started, &self.app.0.request_metrics) {
            let route = self.context.as_ref().and_then(Session::route);
            metrics.record(route, &self.facts.method, res.status(), started.elapsed());
        }
        if let Some((span, start)) = self.span.map(|b| *b) {
            let status = res.status().as_u16();
            let micros = start.elapsed().as_micros() as u64;
            span.in_scope(|| tracing::debug!(target: TRACE_TARGET, status, micros, "finished"));
        }
        res
    }
}

/// The body limit: a declared length over it is refused at once, and the
/// body is wrapped so reading past it fails (a 413 from the extractors).
fn limit_body(app: &AppState, mut req: Request) -> Result<Request, HttpError> {
    let limit = app.core().body_limit;
    if !req.body().is_end_stream() {
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(crate::error::too_large(limit));
        }
        req = req.map(|b| Body::new(http_body_util::Limited::new(b, limit)));
        req = without_default_limit(req);
    }
    Ok(req)
}

/// Turns off axum's own 2 MB default for extractors: our limit applies
/// instead. axum offers this only as a layer (`DefaultBodyLimit`); run as a
/// layer over every route it would box each route once more, so it is run
/// here, on the requests that have a body, over a service that hands the
/// request back at once.
fn without_default_limit(req: Request) -> Request {
    use futures_util::FutureExt;
    struct HandBack;
    impl Service<Request> for HandBack {
        type Response = Request;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Request, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: Request) -> Self::Future {
            std::future::ready(Ok(req))
        }
    }
    let mut svc = axum::extract::DefaultBodyLimit::disable().layer(HandBack);
    match svc.call(req).now_or_never() {
        Some(Ok(req)) => req,
        Some(Err(never)) => match never {},
        None => unreachable!("HandBack answers at once"),
    }
}
