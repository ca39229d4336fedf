//! `GET /metrics`: the Prometheus text page. Extensions add figures that
//! are read when a scrape comes in (a pool's size, the rooms open) with
//! [`AppBuilder::metrics_collector`]; counters and histograms they record
//! as things happen go through the `metrics` facade directly.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, join_all};
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use subtle::ConstantTimeEq;

use crate::error::HttpError;
use crate::state::AppState;

/// How long one collector may take before the page is served without it.
const COLLECT_LIMIT: Duration = Duration::from_secs(2);

pub(crate) type CollectFn = Arc<dyn Fn(AppState) -> BoxFuture<'static, ()> + Send + Sync>;

/// The collectors extensions registered, kept in the app state.
#[derive(Clone, Default)]
pub(crate) struct MetricsCollectors(pub(crate) Vec<(String, CollectFn)>);

/// The page: every collector run (side by side, each bounded), then the
/// recorder rendered.
pub(crate) async fn scrape(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let cfg = &app.core().metrics;
    if cfg.token_set() && !bearer_matches(&headers, cfg.token.as_deref().unwrap_or("")) {
        let mut res = HttpError::new(
            StatusCode::UNAUTHORIZED,
            "the metrics page needs `Authorization: Bearer <metrics.token>`",
        )
        .into_response();
        res.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return res;
    }
    let Some(handle) = crate::prometheus::recorder::handle() else {
        return HttpError::new(
            StatusCode::NOT_FOUND,
            "another metrics recorder is installed: this app serves no metrics page",
        )
        .into_response();
    };
    let collectors = app
        .get::<MetricsCollectors>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    join_all(collectors.into_iter().map(|(source, collect)| {
        let app = app.clone();
        async move {
            if tokio::time::timeout(COLLECT_LIMIT, collect(app))
                .await
                .is_err()
            {
                tracing::warn!(extension = %source, "metrics collector took over {}s; left out of this scrape", COLLECT_LIMIT.as_secs());
            }
        }
    }))
    .await;
    let body = handle.render();
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// Whether the request carries `Authorization: Bearer <token>` (compared
/// in constant time).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(sent) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    bool::from(sent.trim().as_bytes().ct_eq(token.trim().as_bytes()))
}

/// The router `run` serves on `metrics.bind`: the page alone.
pub(crate) fn separate_router(state: &AppState) -> axum::Router {
    let path = state.core().metrics.path.clone();
    axum::Router::new()
        .route(&path, axum::routing::get(scrape))
        .with_state(state.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, "s3cret-token"));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret-token"),
        );
        assert!(bearer_matches(&headers, "s3cret-token"));
        assert!(!bearer_matches(&headers, "s3cret-toke"));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret-token"),
        );
        assert!(!bearer_matches(&headers, "s3cret-token"));
    }
}
