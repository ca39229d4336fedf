//! Routes, nested routers, blueprints and layers, checked as they are added
//! (bad paths, clashing methods, patterns axum would refuse).

use axum::Router;

use super::AppBuilder;
use crate::blueprint::Blueprint;
use crate::error::BuildError;
use crate::routing::{MethodRoutes, RouteInfo, check_path, join_paths};
use crate::state::AppState;
use crate::static_files::StaticMount;

pub(crate) type LayerFn = Box<dyn FnOnce(Router<AppState>) -> Router<AppState> + Send>;

impl AppBuilder {
    /// Adds handlers for a path.
    pub fn route(&mut self, path: &str, routes: impl Into<MethodRoutes>) -> &mut Self {
        let routes = routes.into();
        self.add_route(path.to_owned(), routes, None);
        self
    }

    fn add_route(&mut self, path: String, routes: MethodRoutes, prefix_name: Option<&str>) {
        if let Err(message) = check_path(&path) {
            self.errors.push(BuildError::Extension {
                extension: self.current.clone(),
                phase: "routing",
                source: message.into(),
            });
            return;
        }
        let name = routes.name.map(|n| match prefix_name {
            Some(bp) => format!("{bp}.{n}"),
            None => n,
        });
        if let Some(clash) = self.routes.iter().find(|r| {
            r.path == path
                && (r.methods.is_empty()
                    || routes.methods.is_empty()
                    || r.methods.iter().any(|m| routes.methods.contains(m)))
        }) {
            self.errors.push(BuildError::Extension {
                extension: self.current.clone(),
                phase: "routing",
                source: format!(
                    "route {} {path} is already added by `{}`",
                    clash.methods_label(),
                    clash.source
                )
                .into(),
            });
            return;
        }
        if let Err(e) = self.route_table.claim(&path, &self.current) {
            self.errors.push(e);
            return;
        }
        // CSRF wraps the handlers only, so a wrong method is a 405 first.
        let mut method_router = if routes.json_api {
            routes
                .router
                .layer(crate::csrf::layer::CrossOriginCsrfLayer)
        } else if routes.csrf_wrapped {
            routes.router
        } else {
            routes.router.layer(crate::csrf::layer::CsrfLayer)
        };
        for limit in routes.limits {
            if let Err(problem) = limit.rate() {
                self.errors.push(BuildError::Extension {
                    extension: self.current.clone(),
                    phase: "routing",
                    source: format!("the rate limit on {path}: {problem}").into(),
                });
                return;
            }
            method_router = method_router.layer(limit.in_scope(&path));
        }
        // Outermost, so a preflight is answered before anything else.
        match self.cors_layer(routes.cors.as_ref()) {
            Ok(Some(cors)) => method_router = method_router.layer(cors),
            Ok(None) => {}
            Err(e) => {
                self.errors.push(e);
                return;
            }
        }
        match crate::route_table::guarded_route(std::mem::take(&mut self.router), |r| {
            r.route(&path, method_router)
        }) {
            Ok(router) => self.router = router,
            Err(reason) => {
                self.errors.push(BuildError::Extension {
                    extension: self.current.clone(),
                    phase: "routing",
                    source: format!("route {path}: {reason}").into(),
                });
                return;
            }
        }
        self.routes.push(RouteInfo {
            methods: routes.methods,
            path: path.clone(),
            name,
            source: self.current.clone(),
            extractors: routes.extractors,
        });
    }

    /// Nests a plain axum router under a path; its routes are listed as one
    /// `*` entry.
    pub fn nest(&mut self, path: &str, router: Router<AppState>) -> &mut Self {
        self.nest_with_cors(path, router, None)
    }

    fn nest_with_cors(
        &mut self,
        path: &str,
        router: Router<AppState>,
        cors: Option<&crate::cors::Cors>,
    ) -> &mut Self {
        let mut router = if router.has_routes() {
            router.route_layer(crate::csrf::layer::CsrfLayer)
        } else {
            router
        };
        match self.cors_layer(cors) {
            Ok(Some(cors)) => router = router.layer(cors),
            Ok(None) => {}
            Err(e) => {
                self.errors.push(e);
                return self;
            }
        }
        self.mount(path, "nested router", |r| r.nest(path, router))
    }

    /// The cross-origin layer for a route: its own policy, else the app's
    /// `[cors]`; `None` when no origin is allowed.
    fn cors_layer(
        &self,
        own: Option<&crate::cors::Cors>,
    ) -> Result<Option<tower_http::cors::CorsLayer>, BuildError> {
        let section = "the route's or blueprint's cors";
        let cors = match own {
            Some(c) => c.clone(),
            None => crate::cors::Cors::from_config(self.core.cors.clone()),
        };
        if !cors.is_active() {
            return Ok(None);
        }
        if own.is_none() {
            // A bad `[cors]` is reported once, when the settings are checked.
            return Ok(cors.layer().ok());
        }
        cors.layer()
            .map(Some)
            .map_err(|(key, message)| BuildError::Config {
                extension: self.current.clone(),
                key: format!("{section}: {key}"),
                message,
            })
    }

    /// Adds what `add` puts under `path` (a nested router or service),
    /// listed as one `*` entry; a bad path or a clash is a build error.
    fn mount(
        &mut self,
        path: &str,
        what: &str,
        add: impl FnOnce(Router<AppState>) -> Router<AppState>,
    ) -> &mut Self {
        if let Err(message) = check_path(path) {
            self.errors.push(BuildError::Extension {
                extension: self.current.clone(),
                phase: "routing",
                source: message.into(),
            });
            return self;
        }
        let listed = format!("{}/{{*rest}}", path.trim_end_matches('/'));
        if let Err(e) = self.route_table.claim(&listed, &self.current) {
            self.errors.push(e);
            return self;
        }
        match crate::route_table::guarded_route(std::mem::take(&mut self.router), add) {
            Ok(router) => self.router = router,
            Err(reason) => {
                self.errors.push(BuildError::Extension {
                    extension: self.current.clone(),
                    phase: "routing",
                    source: format!("{what} at {path}: {reason}").into(),
                });
                return self;
            }
        }
        self.routes.push(RouteInfo {
            methods: Vec::new(),
            path: listed,
            name: None,
            source: self.current.clone(),
            extractors: Vec::new(),
        });
        self
    }

    /// Mounts a tower service at a path and everything below it (axum's
    /// `nest_service`: the service sees the path without the prefix), for
    /// protocols that are not routes: a Socket.IO server, a gRPC bridge.
    /// The core middleware (request id, session, security headers, body
    /// limit) runs around it; the form CSRF check does not (the service
    /// speaks its own protocol and must check its own origins).
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// use axum::response::IntoResponse;
    /// let echo = tower::service_fn(|req: axum::extract::Request| async move {
    ///     Ok::<_, std::convert::Infallible>(req.uri().path().to_owned().into_response())
    /// });
    /// app.nest_service("/echo", echo);
    /// # }
    /// ```
    pub fn nest_service<T>(&mut self, path: &str, service: T) -> &mut Self
    where
        T: tower::Service<axum::extract::Request, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        T::Response: axum::response::IntoResponse,
        T::Future: Send + 'static,
    {
        self.mount(path, "service", |r| r.nest_service(path, service))
    }

    /// Adds a blueprint: its routes under its prefix, its endpoint names
    /// prefixed with its name, its templates after the app's, its static
    /// folder at `<prefix>/static`.
    pub fn blueprint(&mut self, bp: Blueprint) -> &mut Self {
        let scope = format!("blueprint:{}", bp.name);
        for limit in &bp.limits {
            if let Err(problem) = limit.rate() {
                self.errors.push(BuildError::Extension {
                    extension: self.current.clone(),
                    phase: "routing",
                    source: format!("the rate limit on blueprint `{}`: {problem}", bp.name).into(),
                });
                return self;
            }
        }
        for (path, mut routes) in bp.routes {
            for limit in &bp.limits {
                routes = routes.limit(limit.clone().in_scope(&scope));
            }
            if routes.cors.is_none() {
                routes.cors = bp.cors.clone();
            }
            self.add_route(join_paths(&bp.url_prefix, &path), routes, Some(&bp.name));
        }
        for (path, mut router) in bp.nested {
            for limit in &bp.limits {
                router = router.layer(limit.clone().in_scope(&scope));
            }
            self.nest_with_cors(&join_paths(&bp.url_prefix, &path), router, bp.cors.as_ref());
        }
        if let Some(folder) = bp.template_folder {
            self.template_folders.push(folder);
        }
        if let Some(folder) = bp.static_folder {
            let url = join_paths(&bp.url_prefix, "/static");
            self.static_mounts.push(StaticMount::from_folder(
                format!("{}.static", bp.name),
                url,
                folder,
                self.current.clone(),
            ));
        }
        self
    }

    /// Wraps every route (added by anyone) in a tower layer. Layers added
    /// later wrap those added earlier.
    pub fn layer<L>(&mut self, layer: L) -> &mut Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.layers.push(Box::new(move |r| r.layer(layer)));
        self
    }
}
