//! [`RateLimit`] as a tower layer: counts the request, refuses it with a
//! 429 past the limit, and tells every client where it stands in the
//! `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers):
//! `RateLimit-Policy: "scope";q=10;w=60` and `RateLimit: "scope";r=3;t=42`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, StatusCode};
use tower::{Layer, Service};

use super::{Decision, Limiter, Rate, RateLimit, counter_key};
use crate::error::HttpError;
use crate::session::RequestContext;

impl<S> Layer<S> for RateLimit {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limit: Arc::new(self.clone()),
        }
    }
}

/// A service behind a [`RateLimit`].
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limit: Arc<RateLimit>,
}

impl<S> Service<Request> for RateLimitService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = self.limit.clone();
        Box::pin(async move {
            let app = RequestContext::any(req.extensions()).map(|s| s.app().clone());
            let Ok(rate) = limit.rate else {
                // A rate the build refused (a layer put on by hand counts nothing).
                tracing::error!("{}", limit.rate.as_ref().err().map_or("", |e| e.as_str()));
                return inner.call(req).await;
            };
            if app.as_ref().is_some_and(|a| !a.core().rate_limit.enabled) {
                return inner.call(req).await;
            }
            // Outside the core middleware (a layer on a plain axum router
            // served alone) the limit counts in a store of its own.
            let limiter = match &app {
                Some(app) => Limiter::of(app),
                None => Limiter::standalone(limit.standalone.clone()),
            };
            let (parts, body) = req.into_parts();
            let key = counter_key(&limit, &parts).await;
            let req = Request::from_parts(parts, body);
            let Some(key) = key else {
                return inner.call(req).await;
            };
            let decision = limiter.take(&key, rate, 1).await;
            let policy = policy_name(&limit);
            if !decision.allowed {
                return Ok(too_many(rate, &policy, decision));
            }
            let mut res = inner.call(req).await?;
            headers(res.headers_mut(), rate, &policy, decision);
            Ok(res)
        })
    }
}

/// The policy's name in the headers: its scope, as a structured-field
/// string (no quotes, backslashes or control characters).
fn policy_name(limit: &RateLimit) -> String {
    limit
        .scope
        .as_deref()
        .unwrap_or("default")
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .take(64)
        .collect()
}

fn secs_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn headers(h: &mut HeaderMap, rate: Rate, policy: &str, d: Decision) {
    let policy_line = format!(
        "\"{policy}\";q={};w={}",
        rate.count(),
        secs_up(rate.period())
    );
    let state = format!("\"{policy}\";r={};t={}", d.remaining, secs_up(d.reset));
    if let Ok(v) = HeaderValue::from_str(&policy_line) {
        h.insert("ratelimit-policy", v);
    }
    if let Ok(v) = HeaderValue::from_str(&state) {
        h.insert("ratelimit", v);
    }
}

/// The 429: how long to wait, in the body and in `Retry-After`.
pub(crate) fn too_many(rate: Rate, policy: &str, d: Decision) -> Response {
    let wait = secs_up(d.retry_after).max(1);
    let mut res = HttpError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many requests: at most {rate}; try again in {wait} s"),
    )
    .into_response();
    res.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(wait));
    headers(res.headers_mut(), rate, policy, d);
    res
}
