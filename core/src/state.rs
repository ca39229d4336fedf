//! The app's state: one `Arc` that every handler reaches, holding the
//! configuration and the typed values extensions provided. Frozen when the
//! app is built; nothing global, so two apps live side by side.
//!
//! One unit with the modules whose parts it holds (templates, identity,
//! sessions, error pages, rate limits, routes, URLs): the state owns their
//! parts and their extractors read the state back, so they import each
//! other by design. Everything else the request pipeline shares sits on a
//! floor below it and imports nothing above: the configuration, `error`
//! (with the size-limit answer), the request id, CORS, change events; and
//! the request's context (`session::RequestContext`), which the middleware
//! above puts in each request.

use std::any::{Any, TypeId, type_name};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use crate::config::{Config, CoreConfig, Profile};
use crate::error::HttpError;
use crate::error_page::ErrorPages;
use crate::routing::RouteInfo;
use crate::session::Keys;
use crate::templates::TemplateEngine;
use crate::url_for::{UrlError, UrlMap};

/// Values keyed by their type (with the types' names, for the build-time
/// check of `Dep<T>` extractors).
#[derive(Clone, Default)]
pub(crate) struct TypeMap(
    HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    HashSet<&'static str>,
);

impl TypeMap {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.insert_any(TypeId::of::<T>(), type_name::<T>(), Arc::new(value));
    }

    pub(crate) fn insert_any(
        &mut self,
        id: TypeId,
        name: &'static str,
        value: Arc<dyn Any + Send + Sync>,
    ) {
        self.0.insert(id, value);
        self.1.insert(name);
    }

    pub(crate) fn contains_id(&self, id: TypeId) -> bool {
        self.0.contains_key(&id)
    }

    pub(crate) fn contains_name(&self, name: &str) -> bool {
        self.1.contains(name)
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref())
    }

    pub(crate) fn get_arc<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.0
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast().ok())
    }
}

pub(crate) struct AppInner {
    pub(crate) config: Config,
    /// Every value, extension defaults included, secrets redacted.
    pub(crate) effective_config: serde_json::Value,
    pub(crate) core: CoreConfig,
    pub(crate) root_path: PathBuf,
    pub(crate) instance_path: PathBuf,
    pub(crate) values: TypeMap,
    pub(crate) urls: Arc<UrlMap>,
    pub(crate) templates: TemplateEngine,
    pub(crate) keys: Keys,
    pub(crate) routes: Vec<RouteInfo>,
    pub(crate) extensions: Vec<String>,
    pub(crate) error_pages: ErrorPages,
    pub(crate) security_headers: crate::security::SecurityHeaders,
    /// Request series, while metrics are served.
    pub(crate) request_metrics: Option<crate::prometheus::requests::RequestMetrics>,
    pub(crate) request_id_header: http::HeaderName,
    /// `server.trusted_proxies`, parsed.
    pub(crate) trusted_proxies: crate::client_addr::TrustedProxies,
    /// This process's rate-limit counters.
    pub(crate) limit_store: Arc<crate::rate_limit::MemoryLimitStore>,
    /// Set when a graceful shutdown begins (see [`AppState::draining`]).
    pub(crate) draining: std::sync::atomic::AtomicBool,
}

/// Shared state of one app. Cheap to clone (one `Arc`).
///
/// Extension crates expose their values through extractors that work
/// wherever `AppState: FromRef<S>`; handlers use those or [`Dep`].
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<AppInner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("extensions", &self.0.extensions)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The app a request belongs to, from its extensions (for tower
    /// layers, which get no state): `None` outside the core middleware.
    pub fn of_request(extensions: &http::Extensions) -> Option<AppState> {
        crate::session::RequestContext::any(extensions).map(|s| s.app().clone())
    }

    /// The configuration the app was built from.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Phial's own configuration keys.
    pub fn core(&self) -> &CoreConfig {
        &self.0.core
    }

    /// The profile (`development`, `testing`, `production`).
    pub fn profile(&self) -> Profile {
        self.0.config.profile()
    }

    /// A value an extension or the app provided, by type.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.values.get::<T>()
    }

    /// Like [`get`](Self::get), as a shared handle.
    pub fn get_arc<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.0.values.get_arc::<T>()
    }

    /// The change feed (see [`crate::changes`]).
    pub fn changes(&self) -> &crate::changes::ChangeFeed {
        self.get::<crate::changes::ChangeFeed>()
            .expect("every app has a change feed")
    }

    /// Sign-out events (see [`crate::identity::SignOuts`]).
    pub fn sign_outs(&self) -> &crate::identity::SignOuts {
        self.get::<crate::identity::SignOuts>()
            .expect("every app has its sign-out events")
    }

    /// Builds a URL by endpoint name (Flask's `url_for`).
    pub fn url_for<K: AsRef<str>, V: AsRef<str>>(
        &self,
        endpoint: &str,
        params: &[(K, V)],
    ) -> Result<String, UrlError> {
        self.0.urls.build(endpoint, params)
    }

    /// The template engine.
    pub fn templates(&self) -> &TemplateEngine {
        &self.0.templates
    }

    /// Folder of templates/ and static/.
    pub fn root_path(&self) -> &Path {
        &self.0.root_path
    }

    /// The instance folder (local state such as the SQLite file); created
    /// when the app is built.
    pub fn instance_path(&self) -> &Path {
        &self.0.instance_path
    }

    /// Every route, for the `routes` command.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.0.routes
    }

    /// Names of the registered extensions, in registration order.
    pub fn extensions(&self) -> &[String] {
        &self.0.extensions
    }

    /// Whether the server is shutting down: `/readyz` answers 503 and every
    /// response says `Connection: close`, for `server.drain_secs` before
    /// the listener closes (so a proxy stops sending here and reuses no
    /// connection the server is about to close).
    pub fn draining(&self) -> bool {
        self.0.draining.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn start_draining(&self) {
        self.0
            .draining
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// A handle that does not keep the app alive: for values the state
    /// itself holds (a strong one would make a cycle and leak the app).
    ///
    /// ```
    /// # async fn doc() {
    /// let app = phial_core::App::builder(phial_core::Config::testing()).build().await.unwrap();
    /// let weak = app.state().downgrade();
    /// assert!(weak.upgrade().is_some());
    /// # }
    /// ```
    pub fn downgrade(&self) -> WeakAppState {
        WeakAppState(Arc::downgrade(&self.0))
    }
}

/// An [`AppState`] that does not keep the app alive ([`AppState::downgrade`]).
#[derive(Clone, Debug)]
pub struct WeakAppState(std::sync::Weak<AppInner>);

impl WeakAppState {
    /// The app, while it is alive.
    pub fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(AppState)
    }
}

/// Extracts a value the app or an extension provided, by type.
///
/// ```
/// use phial_core::Dep;
/// #[derive(Clone)]
/// struct Greeter {
///     greeting: &'static str,
/// }
/// async fn hello(greeter: Dep<Greeter>) -> String {
///     greeter.greeting.to_string()
/// }
/// ```
///
/// A missing value is a 500 that names the type, logged so the developer
/// sees which provider to add.
pub struct Dep<T>(pub Arc<T>);

impl<T> std::ops::Deref for Dep<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<S, T> FromRequestParts<S> for Dep<T>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = HttpError;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        app.get_arc::<T>()
            .map(Dep)
            .ok_or_else(|| missing_state(type_name::<T>()))
    }
}

/// The 500 for a value nobody provided.
pub fn missing_state(what: &str) -> HttpError {
    tracing::error!(
        "no `{what}` in the app state: register the extension that provides it, or call `AppBuilder::insert`"
    );
    HttpError::internal(format!(
        "no `{what}` in the app state: register the extension that provides it"
    ))
}
