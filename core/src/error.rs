//! Errors: startup failures collected in [`BuildErrors`], request failures as
//! [`HttpError`], and the crate-wide [`Error`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// A boxed error from an extension or a user callback.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with Phial's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong outside a request: configuration, building the
/// app, serving, the CLI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The app could not be built; every failure is listed.
    #[error(transparent)]
    Build(#[from] BuildErrors),
    /// Binding or serving the listening socket failed.
    #[error(
        "could not serve on {addr}: {source}; pick another address with `run --bind HOST:PORT`"
    )]
    Serve {
        /// The address that was asked for.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One startup failure. [`BuildErrors`] holds all of them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The same extension was registered twice.
    #[error("extension `{name}` is registered twice: remove one of the `.register(...)` calls")]
    DuplicateExtension {
        /// The extension's name.
        name: String,
    },
    /// An extension needs another one that was not registered.
    #[error(
        "extension `{extension}` requires extension `{requires}`: register it with `.register(...)` in the app factory"
    )]
    MissingDependency {
        /// The extension that asked.
        extension: String,
        /// The one it needs.
        requires: String,
    },
    /// An extension's configuration is invalid.
    #[error("extension `{extension}`: config key `{key}`: {message}")]
    Config {
        /// The extension at fault (`core` for Phial's own keys).
        extension: String,
        /// The full config key, e.g. `database.url`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// `init_app`, `finish`, a provider or a startup hook failed.
    #[error("extension `{extension}` failed during {phase}: {source}")]
    Extension {
        /// The extension at fault.
        extension: String,
        /// `init_app`, `finish`, `provider` or `startup`.
        phase: &'static str,
        /// What went wrong.
        source: BoxError,
    },
    /// Two routes claim the same endpoint name.
    #[error(
        "endpoint name `{name}` is used by both `{first}` and `{second}`: give one route another name"
    )]
    DuplicateEndpoint {
        /// The endpoint name.
        name: String,
        /// The first path.
        first: String,
        /// The second path.
        second: String,
    },
    /// An embedded template could not be loaded (it is not UTF-8 text).
    #[error("template `{name}`: {message}")]
    Template {
        /// Template name or folder.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A startup hook or a provider did not finish in time.
    #[error(
        "extension `{extension}`: {phase} did not finish within {seconds}s (is a service it connects to down? raise `startup_timeout_secs` if it is only slow)"
    )]
    StartupTimeout {
        /// The extension whose hook or provider timed out.
        extension: String,
        /// `startup hook` or `provider`.
        phase: &'static str,
        /// The limit.
        seconds: u64,
    },
    /// A route extracts a value that nothing in the app provides: every
    /// request to it would fail.
    #[error("route {route} (added by `{source_name}`) extracts `{extractor}`, which needs {hint}")]
    MissingState {
        /// Methods and path of the route.
        route: String,
        /// Who added the route.
        source_name: String,
        /// The extractor's type.
        extractor: String,
        /// What to register.
        hint: String,
    },
    /// Two routes cannot live side by side (axum's router would refuse
    /// them, e.g. `/posts/{id}` beside `/posts/{slug}`).
    #[error(
        "route `{path}` (added by `{source_name}`) conflicts with `{other}` (added by `{other_source}`): {reason}"
    )]
    RouteConflict {
        /// The path being added.
        path: String,
        /// Who added it.
        source_name: String,
        /// The path already there.
        other: String,
        /// Who added that one.
        other_source: String,
        /// Why they conflict and what to do.
        reason: String,
    },
}

/// Every failure found while building an app, reported together (as Rocket's
/// failed fairings are) so one start shows everything to fix.
#[derive(Debug)]
pub struct BuildErrors(pub Vec<BuildError>);

impl BuildErrors {
    /// The individual failures.
    pub fn errors(&self) -> &[BuildError] {
        &self.0
    }
}

impl fmt::Display for BuildErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "the app could not be built ({n} error{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildErrors {}

/// A request failure: a status, a reason meant for the client, and optionally
/// the fields at fault. It renders as JSON for API clients and as an HTML page
/// for browsers (see the error layer), so handlers just return it.
///
/// ```
/// use phial_core::HttpError;
/// async fn show() -> Result<String, HttpError> {
///     Err(HttpError::not_found("no post with id 7"))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct HttpError {
    status: StatusCode,
    reason: Cow<'static, str>,
    fields: BTreeMap<String, Vec<String>>,
}

impl HttpError {
    /// An error with this status and reason.
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            reason: reason.into(),
            fields: BTreeMap::new(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// 403 Forbidden.
    pub fn forbidden(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, reason)
    }

    /// 404 Not Found.
    pub fn not_found(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason)
    }

    /// 500 Internal Server Error. The reason is logged, and shown to clients
    /// only outside production.
    pub fn internal(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, reason)
    }

    /// Adds a message for one input field (422 responses list them).
    pub fn with_field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.fields
            .entry(field.into())
            .or_default()
            .push(message.into());
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason shown to the client.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Messages per input field.
    pub fn fields(&self) -> &BTreeMap<String, Vec<String>> {
        &self.fields
    }

    /// The JSON body for API clients.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "status": self.status.as_u16(),
            "error": self.status.canonical_reason().unwrap_or("Error"),
            "reason": self.reason,
        });
        if !self.fields.is_empty() {
            body["fields"] = serde_json::json!(self.fields);
        }
        body
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

impl std::error::Error for HttpError {}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        // The JSON body stands on its own when the error layer is not
        // installed; the layer re-renders it from the extension for browsers.
        let body = axum::Json(self.to_json());
        let mut res = (self.status, body).into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// A write refused before it ran (a shared cache it could not invalidate):
/// 503, nothing saved, the reason for the client.
impl From<crate::changes::Refused> for HttpError {
    fn from(e: crate::changes::Refused) -> Self {
        HttpError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

/// The answer to a body over `body_limit` (413, naming the key).
pub(crate) fn too_large(limit: usize) -> HttpError {
    HttpError::new(
        http::StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {limit} bytes (config key `body_limit`)"),
    )
}

/// Whether a body error is the size limit.
pub(crate) fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}
