//! `/healthz` (the process answers) and `/readyz` (every extension's check
//! passes), for load balancers and orchestrators.
//!
//! A check is *required* ([`AppBuilder::health_check`]: the app cannot serve
//! without it, e.g. the database) or *optional*
//! ([`AppBuilder::health_check_optional`]: the app runs without it, slower
//! or with less, e.g. a cache that fails open). `/readyz` answers 503
//! `unavailable` when a required check fails, else 200 — `degraded` with
//! each failing optional check's reason, or `ok`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, join_all};
use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::BoxError;
use crate::state::AppState;

type CheckFn = Arc<dyn Fn(AppState) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// A readiness check contributed by an extension.
#[derive(Clone)]
pub(crate) struct HealthCheck {
    pub(crate) name: String,
    pub(crate) source: String,
    pub(crate) check: CheckFn,
    /// A failure makes the app unavailable (503), not just degraded.
    pub(crate) required: bool,
}

/// Checks the app runs, stored in the state for `/readyz`.
#[derive(Clone, Default)]
pub(crate) struct HealthChecks(pub(crate) Vec<HealthCheck>);

pub(crate) async fn live() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub(crate) async fn ready(State(app): State<AppState>) -> Response {
    if app.draining() {
        // Shutting down: the proxy or orchestrator sends elsewhere.
        let body = json!({"status": "draining", "checks": {}});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let limit = Duration::from_millis(app.core().health.check_timeout_ms);
    let checks = app
        .get::<HealthChecks>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    let results = join_all(checks.iter().map(|c| {
        let app = app.clone();
        async move {
            match tokio::time::timeout(limit, (c.check)(app)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
            }
        }
    }))
    .await;
    let (mut failed, mut degraded) = (false, false);
    let mut report = Map::new();
    for (check, result) in checks.iter().zip(results) {
        let entry = match result {
            Ok(()) => json!({"status": "ok", "extension": check.source}),
            Err(e) if check.required => {
                failed = true;
                tracing::warn!(check = %check.name, "readiness check failed: {e}");
                json!({"status": "error", "extension": check.source, "error": e})
            }
            Err(e) => {
                degraded = true;
                tracing::warn!(check = %check.name, "readiness degraded: {e}");
                json!({"status": "degraded", "extension": check.source, "reason": e})
            }
        };
        report.insert(check.name.clone(), entry);
    }
    let (status, word) = match (failed, degraded) {
        (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (false, true) => (StatusCode::OK, "degraded"),
        (false, false) => (StatusCode::OK, "ok"),
    };
    let body = json!({"status": word, "checks": Value::Object(report)});
    (status, Json(body)).into_response()
}
