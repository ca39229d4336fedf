//! Requests by method, route pattern and status, with their latency: the
//! core middleware records each response here when metrics are served.
//!
//! The route is the pattern (`/posts/{id}`), never the path, so a page per
//! post is one series, not one per post; requests no route matched are
//! `unmatched`, and methods outside the standard ones are `OTHER`, so no
//! client can make the page grow. A route layer copies axum's
//! `MatchedPath` into the request's shared context on the way in (the core
//! middleware sits outside the router and never sees it otherwise).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use http::{Method, StatusCode};
use metrics::{Counter, Histogram};
use tower::{Layer, Service};

use crate::session::RequestContext;

/// Counter of answered requests.
pub(crate) const REQUESTS: &str = "phial_http_requests_total";
/// Histogram of their latency.
pub(crate) const DURATION: &str = "phial_http_request_duration_seconds";
/// The route label of a request no route matched.
pub(crate) const UNMATCHED: &str = "unmatched";

/// The app's request series, by route: each (method, status) pair's
/// handles are made once, so recording is a map lookup and two atomic
/// updates.
#[derive(Default)]
pub(crate) struct RequestMetrics {
    routes: RwLock<HashMap<Arc<str>, Vec<Series>>>,
}

struct Series {
    method: &'static str,
    status: StatusCode,
    count: Counter,
    latency: Histogram,
}

impl Series {
    fn new(route: &str, method: &'static str, status: StatusCode) -> Self {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_str().to_owned()),
        ];
        Series {
            count: metrics::counter!(REQUESTS, &labels),
            latency: metrics::histogram!(DURATION, &labels),
            method,
            status,
        }
    }

    fn is(&self, method: &str, status: StatusCode) -> bool {
        self.status == status && self.method == method
    }

    fn record(&self, elapsed: Duration) {
        self.count.increment(1);
        self.latency.record(elapsed.as_secs_f64());
    }
}

impl RequestMetrics {
    /// Counts one response of `route` (`None`: no route matched).
    pub(crate) fn record(
        &self,
        route: Option<&str>,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let route = route.unwrap_or(UNMATCHED);
        let method = label_method(method);
        {
            let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = routes
                .get(route)
                .and_then(|all| all.iter().find(|s| s.is(method, status)))
            {
                series.record(elapsed);
                return;
            }
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let all = routes.entry(Arc::from(route)).or_default();
        if let Some(series) = all.iter().find(|s| s.is(method, status)) {
            series.record(elapsed);
            return;
        }
        let series = Series::new(route, method, status);
        series.record(elapsed);
        all.push(series);
    }
}

/// The method as a label: the standard ones by name, any other (a client
/// may send any token) as `OTHER`.
fn label_method(method: &Method) -> &'static str {
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    STANDARD
        .iter()
        .find(|(m, _)| m == method)
        .map_or("OTHER", |(_, name)| name)
}

/// Route layer that hands the matched route's pattern to the core
/// middleware (through the request's shared context). Passes the inner
/// future through: nothing boxed, nothing allocated.
#[derive(Clone, Copy)]
pub(crate) struct RouteLabelLayer;

impl<S> Layer<S> for RouteLabelLayer {
    type Service = RouteLabel<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RouteLabel { inner }
    }
}

#[derive(Clone)]
pub(crate) struct RouteLabel<S> {
    inner: S,
}

impl<S> Service<Request> for RouteLabel<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let ext = req.extensions();
        if let (Some(context), Some(path)) = (RequestContext::any(ext), ext.get::<MatchedPath>()) {
            context.set_route(path.clone());
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(label_method(&odd), "OTHER");
        assert_eq!(label_method(&Method::PATCH), "PATCH");
    }
}
