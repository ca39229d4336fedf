//! Routes with names (Flask's endpoints) and the methods they answer, so the
//! app can build URLs (`url_for`) and list its routes (`routes` command).
//!
//! The functions mirror axum's: `get(handler).post(other).name("guestbook")`.

use axum::handler::Handler;
use axum::routing::MethodRouter;
use http::Method;

use crate::state::AppState;

/// Handlers for one path, by method, with an optional endpoint name.
///
/// ```
/// use phial_core::routing::get;
/// async fn index() -> &'static str { "hi" }
/// let routes = get(index).name("index");
/// assert_eq!(routes.endpoint(), Some("index"));
/// ```
pub struct MethodRoutes {
    pub(crate) router: MethodRouter<AppState>,
    pub(crate) methods: Vec<Method>,
    pub(crate) name: Option<String>,
    /// False for a plain axum method router: the builder adds the CSRF
    /// check around it.
    pub(crate) csrf_wrapped: bool,
    /// A JSON API's handlers: the builder adds the cross-origin check
    /// (the session cookie sent from another origin needs the token).
    pub(crate) json_api: bool,
    /// `type_name` of each handler's extractor tuple, checked against the
    /// state when the app is built (see `sentinel`).
    pub(crate) extractors: Vec<&'static str>,
    /// Rate limits, put on when the route is added (a bad rate is a build
    /// error naming the route).
    pub(crate) limits: Vec<crate::rate_limit::RateLimit>,
    /// A cross-origin policy of its own (else the app's `[cors]`).
    pub(crate) cors: Option<crate::cors::Cors>,
}

impl std::fmt::Debug for MethodRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodRoutes")
            .field("methods", &self.methods)
            .field("name", &self.name)
            .finish()
    }
}

macro_rules! method_fns {
    ($($fname:ident => $method:ident, $csrf:tt);* $(;)?) => {
        $(
            #[doc = concat!("Routes `", stringify!($method), "` requests to `handler`.")]
            pub fn $fname<H, T>(handler: H) -> MethodRoutes
            where
                H: Handler<T, AppState>,
                T: 'static,
            {
                MethodRoutes {
                    router: method_router!($fname, handler, $csrf),
                    methods: vec![Method::$method],
                    name: None,
                    csrf_wrapped: true,
                    json_api: false,
                    extractors: vec![std::any::type_name::<T>()],
                    limits: Vec::new(),
                    cors: None,
                }
            }
        )*

        impl MethodRoutes {
            $(
                #[doc = concat!("Also routes `", stringify!($method), "` requests to `handler`.")]
                pub fn $fname<H, T>(mut self, handler: H) -> Self
                where
                    H: Handler<T, AppState>,
                    T: 'static,
                {
                    self.router = self.router.$fname(wrap!(handler, $csrf));
                    self.methods.push(Method::$method);
                    self.extractors.push(std::any::type_name::<T>());
                    self
                }
            )*
        }
    };
}

/// Handlers of unsafe methods carry the CSRF check themselves (no extra
/// boxed layer per route, and GET handlers pay nothing).
macro_rules! wrap {
    ($handler:expr, true) => {
        $handler.layer(crate::csrf::layer::CsrfLayer)
    };
    ($handler:expr, false) => {
        $handler
    };
}

macro_rules! method_router {
    ($fname:ident, $handler:expr, $csrf:tt) => {
        axum::routing::$fname(wrap!($handler, $csrf))
    };
}

method_fns!(
    get => GET, false;
    post => POST, true;
    put => PUT, true;
    patch => PATCH, true;
    delete => DELETE, true;
    options => OPTIONS, false;
);

/// Routes every method to `handler` (unsafe ones checked for CSRF).
pub fn any<H, T>(handler: H) -> MethodRoutes
where
    H: Handler<T, AppState>,
    T: 'static,
{
    MethodRoutes {
        router: axum::routing::any(handler.layer(crate::csrf::layer::CsrfLayer)),
        methods: Vec::new(),
        name: None,
        csrf_wrapped: true,
        json_api: false,
        extractors: vec![std::any::type_name::<T>()],
        limits: Vec::new(),
        cors: None,
    }
}

impl MethodRoutes {
    /// Names the endpoint, for `url_for`. Inside a blueprint the full name is
    /// `blueprint.name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The endpoint name, if one was given.
    pub fn endpoint(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The methods routed; empty means every method.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// Limits how often these handlers may be called (see
    /// [`crate::rate_limit`]); the counters are the route's own unless the
    /// limit names a [`scope`](crate::rate_limit::RateLimit::scope).
    ///
    /// ```
    /// use phial_core::rate_limit::limit;
    /// use phial_core::routing::post;
    /// async fn send() -> &'static str { "sent" }
    /// let routes = post(send).limit(limit("5/minute").by_user());
    /// # let _ = routes;
    /// ```
    pub fn limit(mut self, limit: crate::rate_limit::RateLimit) -> Self {
        self.limits.push(limit);
        self
    }

    /// Answers calls from other origins by this policy instead of the
    /// app's `[cors]` section.
    pub fn cors(mut self, cors: crate::cors::Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Wraps these handlers in a tower layer (e.g. a timeout for one route).
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }
}

impl From<MethodRouter<AppState>> for MethodRoutes {
    /// A plain axum method router: its methods are not known, so `routes`
    /// lists it as `*`.
    fn from(router: MethodRouter<AppState>) -> Self {
        MethodRoutes {
            router,
            methods: Vec::new(),
            name: None,
            csrf_wrapped: false,
            json_api: false,
            extractors: Vec::new(),
            limits: Vec::new(),
            cors: None,
        }
    }
}

impl MethodRoutes {
    /// Handlers of a JSON API, without the CSRF check forms get: for
    /// handlers that refuse every request body that is not
    /// `application/json` (a content type a browser cannot send to another
    /// site without a CORS preflight) and that answer `PUT`, `PATCH` and
    /// `DELETE` (which always need one). `methods` are listed by `routes`.
    ///
    /// ```
    /// use phial_core::routing::MethodRoutes;
    /// use phial_core::http::Method;
    /// async fn create() -> &'static str { "made" }
    /// let routes = MethodRoutes::json_api(axum::routing::post(create), [Method::POST])
    ///     .name("api_create");
    /// assert_eq!(routes.methods(), &[Method::POST]);
    /// ```
    pub fn json_api(
        router: MethodRouter<AppState>,
        methods: impl IntoIterator<Item = Method>,
    ) -> Self {
        MethodRoutes {
            router,
            methods: methods.into_iter().collect(),
            name: None,
            csrf_wrapped: true,
            json_api: true,
            extractors: Vec::new(),
            limits: Vec::new(),
            cors: None,
        }
    }
}

/// One route as the `routes` command lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteInfo {
    /// Methods answered; empty means every method.
    #[serde(serialize_with = "ser_methods")]
    pub methods: Vec<Method>,
    /// Full path, with `{param}` placeholders.
    pub path: String,
    /// Endpoint name for `url_for`.
    pub name: Option<String>,
    /// Who added it: `app`, or the extension's name.
    pub source: String,
    /// `type_name` of each handler's extractor tuple.
    #[serde(skip)]
    pub(crate) extractors: Vec<&'static str>,
}

fn ser_methods<S: serde::Serializer>(m: &[Method], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter().map(Method::as_str))
}

impl RouteInfo {
    /// Methods as text: `GET, POST`, or `*`.
    pub fn methods_label(&self) -> String {
        if self.methods.is_empty() {
            "*".to_owned()
        } else {
            self.methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// Why a path cannot be routed: caught at build time instead of axum's panic.
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("route path `{path}` must start with `/`"));
    }
    for seg in path.split('/') {
        if seg.starts_with(':') || (seg.starts_with('*') && !seg.starts_with("*{")) {
            return Err(format!(
                "route path `{path}`: write parameters as `{{name}}` and wildcards as `{{*name}}` (axum 0.8 syntax)"
            ));
        }
    }
    Ok(())
}

/// Joins a prefix and a path without doubling or losing the slash.
pub(crate) fn join_paths(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match (prefix.is_empty(), path) {
        (true, "") => "/".to_owned(),
        (true, p) => p.to_owned(),
        (false, "/" | "") => prefix.to_owned(),
        (false, p) => format!("{prefix}{p}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_cleanly() {
        assert_eq!(join_paths("/blog", "/"), "/blog");
        assert_eq!(join_paths("/blog/", "/x"), "/blog/x");
        assert_eq!(join_paths("", "/x"), "/x");
        assert_eq!(join_paths("/", "/"), "/");
    }

    #[test]
    fn old_style_parameters_are_refused_with_the_new_syntax() {
        assert!(check_path("/posts/:id").unwrap_err().contains("{name}"));
        assert!(check_path("posts").is_err());
        assert!(check_path("/posts/{id}").is_ok());
        assert!(check_path("/files/{*path}").is_ok());
    }
}
