//! Blueprints: a named group of routes under a URL prefix, with its own
//! templates and static folder (Flask's `Blueprint`).

use axum::Router;

use crate::assets::Folder;
use crate::routing::MethodRoutes;
use crate::state::AppState;

/// A named group of routes. Endpoint names inside it are prefixed with the
/// blueprint's name: `url_for("blog.show", ...)`.
///
/// ```
/// use phial_core::{Blueprint, routing::get};
/// async fn index() -> &'static str { "posts" }
/// let bp = Blueprint::new("blog").url_prefix("/blog").route("/", get(index).name("index"));
/// assert_eq!(bp.name(), "blog");
/// ```
pub struct Blueprint {
    pub(crate) name: String,
    pub(crate) url_prefix: String,
    pub(crate) routes: Vec<(String, MethodRoutes)>,
    pub(crate) nested: Vec<(String, Router<AppState>)>,
    pub(crate) template_folder: Option<Folder>,
    pub(crate) static_folder: Option<Folder>,
    pub(crate) limits: Vec<crate::rate_limit::RateLimit>,
    pub(crate) cors: Option<crate::cors::Cors>,
}

impl Blueprint {
    /// A blueprint mounted at `/` until [`url_prefix`](Self::url_prefix) says otherwise.
    pub fn new(name: impl Into<String>) -> Self {
        Blueprint {
            name: name.into(),
            url_prefix: String::new(),
            routes: Vec::new(),
            nested: Vec::new(),
            template_folder: None,
            static_folder: None,
            limits: Vec::new(),
            cors: None,
        }
    }

    /// The blueprint's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Mounts every route under this prefix.
    pub fn url_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.url_prefix = prefix.into();
        self
    }

    /// Adds handlers for a path (relative to the prefix).
    pub fn route(mut self, path: impl Into<String>, routes: impl Into<MethodRoutes>) -> Self {
        self.routes.push((path.into(), routes.into()));
        self
    }

    /// Limits every route of the blueprint, together: one allowance per
    /// caller across its routes (see [`crate::rate_limit`]).
    ///
    /// ```
    /// use phial_core::{Blueprint, rate_limit::limit};
    /// let api = Blueprint::new("api").url_prefix("/api").limit(limit("100/minute"));
    /// # let _ = api;
    /// ```
    pub fn limit(mut self, limit: crate::rate_limit::RateLimit) -> Self {
        self.limits.push(limit);
        self
    }

    /// Answers calls from other origins to the blueprint's routes by this
    /// policy instead of the app's `[cors]` section.
    pub fn cors(mut self, cors: crate::cors::Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Nests a plain axum router under a path (relative to the prefix).
    pub fn nest(mut self, path: impl Into<String>, router: Router<AppState>) -> Self {
        self.nested.push((path.into(), router));
        self
    }

    /// A template folder searched after the app's own (so apps can
    /// override). Use `phial::folder!("blog/templates")` to have it
    /// compiled into release binaries.
    pub fn template_folder(mut self, folder: impl Into<Folder>) -> Self {
        self.template_folder = Some(folder.into());
        self
    }

    /// A static folder served at `<prefix>/static`, endpoint
    /// `<name>.static`. Use `phial::folder!("blog/static")` to have it
    /// compiled into release binaries.
    pub fn static_folder(mut self, folder: impl Into<Folder>) -> Self {
        self.static_folder = Some(folder.into());
        self
    }
}
