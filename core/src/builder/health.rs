//! The builder's readiness checks (`/readyz`): required ones that make the
//! app unavailable when they fail, optional ones that make it degraded.

use std::sync::Arc;

use super::AppBuilder;
use crate::error::BoxError;
use crate::health::HealthCheck;
use crate::state::AppState;

impl AppBuilder {
    /// Adds a readiness check for a dependency the app can serve without
    /// (a cache that fails open, a mail relay): when it fails or times out,
    /// `/readyz` still answers 200, with the check `degraded` and its
    /// reason, and the top-level status `degraded` unless a required check
    /// ([`health_check`](Self::health_check)) failed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use phial_core::{App, Config};
    /// let app = App::builder(Config::testing())
    ///     .health_check_optional("cache", |_state| async { Err("no answer from Redis".into()) })
    ///     .build().await.unwrap();
    /// let res = app.test_client().get("/readyz").send().await;
    /// assert_eq!(res.status(), 200);
    /// let body: serde_json::Value = res.json();
    /// assert_eq!(body["status"], "degraded");
    /// assert_eq!(body["checks"]["cache"]["reason"], "no answer from Redis");
    /// # }
    /// ```
    pub fn health_check_optional<F, Fut>(&mut self, name: &str, check: F) -> &mut Self
    where
        F: Fn(AppState) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let source = self.current_source().to_owned();
        self.health_checks.push(HealthCheck {
            name: name.to_owned(),
            source,
            check: Arc::new(move |s| Box::pin(check(s))),
            required: false,
        });
        self
    }
}
