//! What extensions hook into besides routes: CLI commands, readiness
//! checks, contributions for collectors, the change feed, deploy checks,
//! startup and shutdown hooks, error handlers.

use std::any::TypeId;
use std::future::Future;
use std::sync::Arc;

use http::StatusCode;

use super::AppBuilder;
use crate::cli::{CliCommand, CommandContext};
use crate::error::BoxError;
use crate::health::HealthCheck;
use crate::lifecycle::{ShutdownHook, StartupHook};
use crate::state::AppState;

impl AppBuilder {
    /// Adds a CLI subcommand to every binary of this app.
    ///
    /// ```
    /// # use phial_core::{App, Config};
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// app.command(clap::Command::new("hello").about("Says hello"), |ctx| async move {
    ///     ctx.println("hello");
    ///     Ok(())
    /// });
    /// # }
    /// ```
    pub fn command<F, Fut>(&mut self, command: clap::Command, run: F) -> &mut Self
    where
        F: Fn(CommandContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.commands.push(CliCommand {
            command,
            source: self.current.clone(),
            run: Arc::new(move |ctx| Box::pin(run(ctx))),
        });
        self
    }

    /// Adds a readiness check, run by `/readyz` with a time limit; its
    /// failure makes the app unavailable (503). For a dependency the app
    /// can serve without, see
    /// [`health_check_optional`](Self::health_check_optional).
    pub fn health_check<F, Fut>(&mut self, name: &str, check: F) -> &mut Self
    where
        F: Fn(AppState) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.health_checks.push(HealthCheck {
            name: name.to_owned(),
            source: self.current.clone(),
            check: Arc::new(move |s| Box::pin(check(s))),
            required: true,
        });
        self
    }

    /// Hands an item to whichever extension collects items of type `T`
    /// (migrations for the migrator, models for the admin, paths for
    /// OpenAPI). The collector takes them in its `finish` phase, so the
    /// order of registration does not matter.
    pub fn contribute<T: Send + Sync + 'static>(&mut self, item: T) -> &mut Self {
        let source = self.current.clone();
        self.contributions
            .entry(TypeId::of::<T>())
            .or_default()
            .push(super::Contribution {
                source,
                type_name: std::any::type_name::<T>(),
                item: Box::new(item),
            });
        self
    }

    /// Takes every contributed item of type `T`, each with the name of who
    /// contributed it (`app` or the extension), in contribution order.
    pub fn take_contributions<T: Send + Sync + 'static>(&mut self) -> Vec<(String, T)> {
        self.contributions
            .remove(&TypeId::of::<T>())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.item.downcast::<T>().ok().map(|item| (c.source, *item)))
            .collect()
    }

    /// Follows the change feed with the app's state in hand: an extension
    /// that reacts to writes (an audit log, a search index) reaches its
    /// `Db` or other state here instead of smuggling it in at startup.
    /// Every `publish` awaits the listener (see
    /// [`ChangeFeed::listen`](crate::changes::ChangeFeed::listen)); events
    /// published before the app is built, or after it is dropped, skip it.
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// struct AuditLog(std::sync::Mutex<Vec<String>>);
    /// app.insert(AuditLog(Default::default()));
    /// app.on_change("audit", |state, change| async move {
    ///     if let Some(log) = state.get::<AuditLog>() {
    ///         log.0.lock().unwrap().push(format!("{:?} {}", change.op, change.table));
    ///     }
    /// });
    /// # }
    /// ```
    pub fn on_change<F, Fut>(&mut self, name: &str, f: F) -> &mut Self
    where
        F: Fn(AppState, Arc<crate::changes::Change>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let slot = self.state_slot.clone();
        let f = Arc::new(f);
        self.changes.listen(name, move |change| {
            let state = slot.get().and_then(|weak| weak.upgrade()).map(AppState);
            let f = f.clone();
            async move {
                if let Some(state) = state {
                    f(state, change).await;
                }
            }
        });
        self
    }

    /// Guards writes with the app's state in hand: `f` runs before every
    /// write through Phial's helpers (see
    /// [`ChangeFeed::guard`](crate::changes::ChangeFeed::guard)) and an
    /// `Err` refuses it, nothing saved. Writes before the app is built
    /// pass.
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// app.before_change("maintenance", |_state, change| async move {
    ///     if change.table == "invoice" { Err("invoices are closed for the night".into()) } else { Ok(()) }
    /// });
    /// # }
    /// ```
    pub fn before_change<F, Fut>(&mut self, name: &str, f: F) -> &mut Self
    where
        F: Fn(AppState, Arc<crate::changes::Change>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let slot = self.state_slot.clone();
        let f = Arc::new(f);
        self.changes.guard(name, move |change| {
            let state = slot.get().and_then(|weak| weak.upgrade()).map(AppState);
            let f = f.clone();
            async move {
                match state {
                    Some(state) => f(state, change).await,
                    None => Ok(()),
                }
            }
        });
        self
    }

    /// The app's change feed: publish writes, or follow them (see
    /// [`crate::changes`]). The same feed is in the built app's state.
    pub fn changes(&self) -> &crate::changes::ChangeFeed {
        &self.changes
    }

    /// Adds production checks to `check --deploy` (e.g. "SQLite in
    /// production"); findings are listed with the extension's name.
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// use phial_core::DeployFinding;
    /// app.deploy_check(|state| {
    ///     let url: String = state.config().get("database.url").unwrap_or_default();
    ///     if url.starts_with("sqlite:") {
    ///         vec![DeployFinding::warning("database.url", "SQLite does not scale to several nodes")]
    ///     } else {
    ///         vec![]
    ///     }
    /// });
    /// # }
    /// ```
    pub fn deploy_check<F>(&mut self, check: F) -> &mut Self
    where
        F: Fn(&AppState) -> Vec<crate::DeployFinding> + Send + Sync + 'static,
    {
        self.deploy_checks
            .push(self.current.clone(), Arc::new(check));
        self
    }

    /// Runs `f` once the state is complete, before the app is returned;
    /// bounded by `startup_timeout_secs`.
    pub fn on_startup<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: FnOnce(AppState) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.startup.push(StartupHook {
            source: self.current.clone(),
            run: Box::new(move |s| Box::pin(f(s))),
        });
        self
    }

    /// Runs `f` when the app shuts down; hooks run in reverse order of
    /// registration, each bounded by `shutdown_timeout_secs`.
    pub fn on_shutdown<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: FnOnce(AppState) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.shutdown.push(ShutdownHook {
            source: self.current.clone(),
            run: Box::new(move |s| Box::pin(f(s))),
        });
        self
    }

    /// Runs `f` as soon as a graceful shutdown begins, while in-flight
    /// requests are still finishing: close what the server cannot wait
    /// for (WebSockets and long polls never finish on their own). Hooks run
    /// in reverse order of registration, each bounded by
    /// `shutdown_timeout_secs`, before the shutdown hooks.
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// app.on_drain(|_state| async {
    ///     // e.g. tell every WebSocket client to reconnect elsewhere
    ///     Ok(())
    /// });
    /// # }
    /// ```
    pub fn on_drain<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: FnOnce(AppState) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.drain.push(ShutdownHook {
            source: self.current.clone(),
            run: Box::new(move |s| Box::pin(f(s))),
        });
        self
    }

    /// Renders errors with this status yourself (Flask's `errorhandler`).
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// use axum::response::IntoResponse;
    /// app.error_handler(http::StatusCode::NOT_FOUND, |ctx| {
    ///     (ctx.status(), format!("nothing at {}", ctx.path())).into_response()
    /// });
    /// # }
    /// ```
    pub fn error_handler<F>(&mut self, status: StatusCode, f: F) -> &mut Self
    where
        F: Fn(&crate::error_page::ErrorContext<'_>) -> axum::response::Response
            + Send
            + Sync
            + 'static,
    {
        self.error_handlers.push((status, Arc::new(f)));
        self
    }
}
