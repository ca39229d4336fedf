//! `App`: the built application — a router, its state, its CLI commands
//! and shutdown hooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;

use crate::cli::CliCommand;
use crate::lifecycle::{ShutdownHook, StopHooks};
use crate::middleware::{CoreLayer, CoreService};

/// The whole app as one tower service: the core middleware around the
/// router. Cheap to clone.
pub type AppService = CoreService<Router>;
use crate::state::AppState;
use crate::testing::TestClient;
use tower::Layer;

struct Lifecycle {
    drain: Mutex<Option<Vec<ShutdownHook>>>,
    shutdown: Mutex<Option<Vec<ShutdownHook>>>,
    commands: Vec<CliCommand>,
}

/// A built app. Cheap to clone. Serve it with [`App::serve`], drive it from
/// tests with [`App::test_client`], or hand it to [`crate::cli::main`].
///
/// ```
/// use phial_core::{App, Config, routing::get};
/// # async fn doc() {
/// let app = App::builder(Config::testing())
///     .route("/", get(|| async { "hi" }))
///     .build().await.unwrap();
/// let res = app.test_client().get("/").send().await;
/// assert_eq!(res.text(), "hi");
/// # }
/// ```
#[derive(Clone)]
pub struct App {
    state: AppState,
    service: AppService,
    lifecycle: Arc<Lifecycle>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl App {
    pub(crate) fn new(
        state: AppState,
        router: Router,
        hooks: StopHooks,
        commands: Vec<CliCommand>,
    ) -> Self {
        let service = CoreLayer(state.clone()).layer(router);
        App {
            state,
            service,
            lifecycle: Arc::new(Lifecycle {
                drain: Mutex::new(Some(hooks.drain)),
                shutdown: Mutex::new(Some(hooks.shutdown)),
                commands,
            }),
        }
    }

    /// The app's state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The complete app as an axum `Router`, to nest in another axum app
    /// or hand to `axum::serve`. ([`App::serve`] skips the extra box this
    /// conversion costs.)
    pub fn router(&self) -> Router {
        Router::new().fallback_service(self.service.clone())
    }

    /// The app as a tower service: what [`App::serve`] runs, for custom
    /// servers and benchmarks.
    pub fn service(&self) -> AppService {
        self.service.clone()
    }

    /// A client that drives the app in-process, with a cookie jar.
    pub fn test_client(&self) -> TestClient {
        TestClient::new(self.service.clone())
    }

    pub(crate) fn commands(&self) -> &[CliCommand] {
        &self.lifecycle.commands
    }

    /// Runs the drain hooks (see [`AppBuilder::on_drain`]) once; later
    /// calls do nothing. [`App::serve`] calls it when the shutdown signal
    /// fires; [`App::shutdown`] calls it first if nobody did. Returns the
    /// problems met, which are also logged.
    pub async fn drain(&self) -> Vec<String> {
        let hooks = self
            .lifecycle
            .drain
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(hooks) = hooks else {
            return Vec::new();
        };
        let limit = Duration::from_secs(self.state.core().shutdown_timeout_secs);
        crate::lifecycle::run_shutdown(hooks, &self.state, limit).await
    }

    /// Runs the drain hooks if nobody did, then the shutdown hooks (reverse
    /// order, each bounded by `shutdown_timeout_secs`) once; later calls do
    /// nothing. Returns the problems met, which are also logged.
    pub async fn shutdown(&self) -> Vec<String> {
        let mut problems = self.drain().await;
        let hooks = self
            .lifecycle
            .shutdown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(hooks) = hooks else {
            return problems;
        };
        let limit = Duration::from_secs(self.state.core().shutdown_timeout_secs);
        problems.extend(crate::lifecycle::run_shutdown(hooks, &self.state, limit).await);
        problems
    }
}
