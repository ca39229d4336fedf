//! Calls from pages on other origins (Flask-CORS's job), over tower-http's
//! `CorsLayer`: the app's `[cors]` section applies to every route, a
//! blueprint or a route may carry its own [`Cors`]. Preflights
//! (`OPTIONS` with `Access-Control-Request-Method`) are answered before
//! the route's methods are looked at.
//!
//! Credentials (the session cookie) are allowed only for the origins
//! listed by name, never for `*`: with `origins = ["*",
//! "https://app.example"]` and `credentials = true`, any page may read
//! the public API and only `https://app.example` may call it signed in.
//! A cross-origin request that carries the session cookie still needs its
//! CSRF token (see `csrf`).
//!
//! ```
//! use phial_core::cors::Cors;
//! let cors = Cors::new()
//!     .origin("https://app.example.com")
//!     .credentials(true)
//!     .max_age_secs(600);
//! # let _ = cors;
//! ```

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

/// `[cors]` (and what [`Cors`] is built from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CorsConfig {
    /// Origins whose pages may call the app (`https://app.example.com`,
    /// scheme and host and port as the browser sends them), or `*` for
    /// any. Empty: no cross-origin calls (the default).
    pub origins: Vec<String>,
    /// Methods they may use.
    pub methods: Vec<String>,
    /// Request headers they may send.
    pub headers: Vec<String>,
    /// Response headers their scripts may read.
    pub expose_headers: Vec<String>,
    /// Seconds a browser may cache a preflight's answer.
    pub max_age_secs: u64,
    /// Let the listed origins send cookies (and read the answers). Never
    /// for `*`.
    pub credentials: bool,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            origins: Vec::new(),
            methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .into(),
            headers: [
                "content-type",
                "authorization",
                "x-csrf-token",
                "x-requested-with",
                "if-match",
                "if-none-match",
            ]
            .map(String::from)
            .into(),
            expose_headers: [
                "etag",
                "location",
                "link",
                "retry-after",
                "ratelimit",
                "ratelimit-policy",
                "x-request-id",
            ]
            .map(String::from)
            .into(),
            max_age_secs: 600,
            credentials: false,
        }
    }
}

/// A cross-origin policy (see the module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cors {
    cfg: CorsConfig,
}

impl Default for Cors {
    fn default() -> Self {
        Cors::new()
    }
}

impl Cors {
    /// No origin yet, the default methods and headers.
    pub fn new() -> Self {
        Cors {
            cfg: CorsConfig::default(),
        }
    }

    /// From a config section.
    pub fn from_config(cfg: CorsConfig) -> Self {
        Cors { cfg }
    }

    /// One more allowed origin (`*` for any).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.cfg.origins.push(origin.into());
        self
    }

    /// Cookies for the listed origins.
    pub fn credentials(mut self, yes: bool) -> Self {
        self.cfg.credentials = yes;
        self
    }

    /// How long browsers may cache a preflight.
    pub fn max_age_secs(mut self, secs: u64) -> Self {
        self.cfg.max_age_secs = secs;
        self
    }

    /// The methods allowed.
    pub fn methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// The request headers allowed.
    pub fn headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// Whether any origin is allowed at all.
    pub fn is_active(&self) -> bool {
        !self.cfg.origins.is_empty()
    }

    /// Whether `*` is listed while credentials are on (they then go to the
    /// named origins only; `check --deploy` says so).
    pub fn wildcard_with_credentials(&self) -> bool {
        self.cfg.credentials && self.cfg.origins.iter().any(|o| o.trim() == "*")
    }

    /// The layer, or what is wrong with the settings (`(key, message)`,
    /// the key relative to the section).
    pub fn layer(&self) -> Result<CorsLayer, (String, String)> {
        let cfg = &self.cfg;
        let any = cfg.origins.iter().any(|o| o.trim() == "*");
        let mut listed = Vec::new();
        for (i, o) in cfg.origins.iter().enumerate() {
            let o = o.trim().trim_end_matches('/');
            if o == "*" {
                continue;
            }
            let host = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            if host.is_none_or(|h| h.is_empty() || h.contains('/')) {
                return Err((
                    format!("origins[{i}]"),
                    format!(
                        "`{o}` is not an origin: write scheme, host and port only \
                         (`https://app.example.com`, `http://localhost:5173`) or `*`"
                    ),
                ));
            }
            listed.push(HeaderValue::from_str(o).map_err(|_| {
                (
                    format!("origins[{i}]"),
                    format!("`{o}` is not a valid header value"),
                )
            })?);
        }
        let methods = parse_all(&cfg.methods, "methods", |m| {
            Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok()
        })?;
        let headers = parse_all(&cfg.headers, "headers", |h| {
            HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).ok()
        })?;
        let expose = parse_all(&cfg.expose_headers, "expose_headers", |h| {
            HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).ok()
        })?;
        let listed = Arc::new(listed);
        let allowed = listed.clone();
        let credentialed = listed.clone();
        let credentials = cfg.credentials;
        Ok(CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, _| {
                any || allowed.iter().any(|o| o == origin)
            }))
            .allow_credentials(AllowCredentials::predicate(move |origin, _| {
                credentials && credentialed.iter().any(|o| o == origin)
            }))
            .allow_methods(AllowMethods::list(methods))
            .allow_headers(AllowHeaders::list(headers))
            .expose_headers(expose)
            .max_age(Duration::from_secs(cfg.max_age_secs)))
    }
}

fn parse_all<T>(
    items: &[String],
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, (String, String)> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse(item.trim()).ok_or_else(|| {
                (
                    format!("{key}[{i}]"),
                    format!("`{item}` is not a valid name"),
                )
            })
        })
        .collect()
}
