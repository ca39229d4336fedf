//! The one trait every extension implements.
//!
//! One unit with `builder/mod.rs`: `init_app` and `finish` take the builder,
//! and the builder keeps the extensions it binds, so the trait and the
//! builder import each other by design.

use crate::builder::AppBuilder;
use crate::error::BoxError;

/// An extension: built without an app (cheap, no I/O), then bound to one
/// inside the app factory, like Flask's `ext = Ext()` / `ext.init_app(app)`.
///
/// # Lifecycle
///
/// 1. `AppBuilder::register(ext)` queues it; the same name twice is an error.
/// 2. [`init_app`](Extension::init_app) runs once, in registration order. It
///    reads its config section, adds routes, layers, templates, static
///    assets, CLI commands, health checks and hooks, and hands async work
///    (connecting a pool) to the builder with [`AppBuilder::provide`].
/// 3. Dependencies declared with [`AppBuilder::require`] are checked.
/// 4. [`finish`](Extension::finish) runs for every extension, after every
///    `init_app`: collectors (migrations, admin models, OpenAPI paths) gather
///    what others contributed here, whatever the registration order.
/// 5. Providers run in order, their values become typed state; then startup
///    hooks run, each bounded in time.
/// 6. At shutdown, shutdown hooks run in reverse order, each bounded in time.
///
/// Every failure in steps 1-5 is collected and reported together.
///
/// The extension never stores the app: per-app values live in the app's
/// state, so one extension value works for several apps.
///
/// ```
/// use phial_core::{AppBuilder, BoxError, Extension, routing::get};
///
/// struct Ping;
///
/// impl Extension for Ping {
///     fn name(&self) -> &str { "ping" }
///     fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
///         app.route("/ping", get(|| async { "pong" }).name("ping"));
///         Ok(())
///     }
/// }
/// ```
pub trait Extension: Send + Sync + 'static {
    /// Unique name: the key for errors, config sections and
    /// `app.extensions()`. Defaults to the type's path.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// Binds the extension to an app.
    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError>;

    /// Runs after every extension's `init_app`.
    fn finish(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let _ = app;
        Ok(())
    }
}

/// A plain function is an extension too (named after its type).
impl<F> Extension for F
where
    F: Fn(&mut AppBuilder) -> Result<(), BoxError> + Send + Sync + 'static,
{
    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        self(app)
    }
}
