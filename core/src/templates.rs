//! Templates: minijinja (Jinja2 syntax) with autoescape for `.html`, `.htm`
//! and `.xml`, reloaded when files change (in development), and Flask's
//! context: `url_for`, `csrf_token()`, `get_flashed_messages()`, `config`,
//! `request`.
//!
//! ```
//! use phial_core::{Templates, HttpError};
//! use minijinja::context;
//! async fn index(tpl: Templates) -> Result<axum::response::Html<String>, HttpError> {
//!     tpl.render("index.html", context! { title => "Home" })
//! }
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::response::Html;
use http::request::Parts;
use minijinja::value::{Kwargs, Value};
use minijinja::{
    AutoEscape, Environment, Error as TplError, ErrorKind, State, context, path_loader,
};

use crate::csrf;
use crate::error::HttpError;
use crate::identity::{Identity, IdentityError};
use crate::session::RequestContext;
use crate::session::Session;
use crate::state::AppState;
use crate::url_for::UrlMap;

pub(crate) type TemplateSetup = Arc<dyn Fn(&mut Environment<'static>) + Send + Sync>;

/// The app's template environment.
#[derive(Clone)]
pub struct TemplateEngine {
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for TemplateEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TemplateEngine")
    }
}

pub(crate) struct EngineParts {
    pub(crate) folders: Vec<PathBuf>,
    pub(crate) sources: Vec<(String, Cow<'static, str>)>,
    pub(crate) setup: Vec<TemplateSetup>,
    pub(crate) urls: Arc<UrlMap>,
    pub(crate) config: serde_json::Value,
    pub(crate) auto_reload: bool,
}

impl TemplateEngine {
    pub(crate) fn new(parts: EngineParts) -> Self {
        let mut env = Environment::new();
        let loaders: Vec<_> = parts.folders.iter().map(path_loader).collect();
        let sources: HashMap<String, Cow<'static, str>> = parts.sources.into_iter().collect();
        env.set_loader(move |name| {
            for loader in &loaders {
                if let Some(found) = loader(name)? {
                    return Ok(Some(found));
                }
            }
            Ok(sources
                .get(name)
                .map(|s| minijinja::TemplateSource::new(s.to_string())))
        });
        env.set_auto_reload(parts.auto_reload);
        let urls = parts.urls;
        env.add_function(
            "url_for",
            move |state: &State, endpoint: &str, kwargs: Kwargs| -> Result<Value, TplError> {
                let mut params = Vec::new();
                for key in kwargs.args() {
                    let value: Value = kwargs.get(key)?;
                    params.push((key.to_owned(), value.to_string()));
                }
                let url = urls
                    .build(endpoint, &params)
                    .map_err(|e| TplError::new(ErrorKind::InvalidOperation, e.to_string()))?;
                // Built URLs are percent-encoded: only `&` needs escaping in HTML,
                // and marking them safe keeps `/` readable.
                Ok(match state.auto_escape() {
                    AutoEscape::Html => Value::from_safe_string(url.replace('&', "&amp;")),
                    _ => Value::from(url),
                })
            },
        );
        env.add_global(
            "config",
            Value::from(minijinja::value::Serde(&parts.config)),
        );
        for setup in &parts.setup {
            setup(&mut env);
        }
        TemplateEngine { env: Arc::new(env) }
    }

    /// The minijinja environment (for rendering without a request).
    pub fn env(&self) -> &Environment<'static> {
        &self.env
    }

    /// Renders a template with a context, outside any request.
    pub fn render(&self, name: &str, ctx: impl serde::Serialize) -> Result<String, TplError> {
        self.env
            .get_template(name)?
            .render(Value::from(minijinja::value::Serde(&ctx)))
    }

    /// Whether a template of that name can be loaded.
    pub fn exists(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }
}

/// Renders templates for the current request, adding its context: a
/// `csrf_token()` for the session, `get_flashed_messages()`, `request`
/// (`path`, `method`, `id`) and `current_user` (`is_authenticated`, `id`,
/// `name`, `realm`; `signed_in` lists every realm's user). The user is
/// never the whole row: no field a template could leak by accident.
pub struct Templates {
    app: AppState,
    session: Option<Session>,
    request: Value,
    current_user: Value,
    signed_in: Value,
}

/// `current_user` and `signed_in` for a template: who the identity says,
/// or an anonymous user (marked `unavailable` when it could not be read).
fn user_values(identity: Option<Result<Arc<Identity>, IdentityError>>) -> (Value, Value) {
    let (identity, unavailable) = match identity {
        Some(Ok(i)) => (Some(i), false),
        Some(Err(_)) => (None, true),
        None => (None, false),
    };
    let first = identity.as_ref().and_then(|i| i.first().cloned());
    let current = match first {
        Some(u) => context! {
            is_authenticated => true,
            id => u.id(),
            name => u.name(),
            realm => u.realm(),
        },
        None => context! { is_authenticated => false, unavailable => unavailable },
    };
    let all: std::collections::BTreeMap<String, Value> = identity
        .iter()
        .flat_map(|i| i.users().iter())
        .map(|u| {
            (
                u.realm().to_owned(),
                context! { id => u.id(), name => u.name() },
            )
        })
        .collect();
    (current, Value::from_iter(all))
}

impl Templates {
    /// Templates for a request, outside an extractor (error pages).
    pub(crate) fn for_request(
        app: AppState,
        session: Option<Session>,
        method: &str,
        path: &str,
        id: Option<String>,
    ) -> Self {
        // Error pages render with who the request already knew.
        let known = session
            .as_ref()
            .and_then(crate::identity::resolved_for)
            .map(Ok);
        let (current_user, signed_in) = user_values(known);
        Templates {
            app,
            session,
            request: context! { path => path, method => method, id => id },
            current_user,
            signed_in,
        }
    }

    /// Renders `name` with `ctx` (a `minijinja::context!` or anything
    /// serialisable) into an HTML response. Failures are a 500 naming the
    /// template and the line; the details are shown outside production only.
    pub fn render(
        &self,
        name: &str,
        ctx: impl serde::Serialize,
    ) -> Result<Html<String>, HttpError> {
        self.render_string(name, ctx).map(Html)
    }

    /// Like [`render`](Self::render), as a string.
    pub fn render_string(
        &self,
        name: &str,
        ctx: impl serde::Serialize,
    ) -> Result<String, HttpError> {
        let user = Value::from(minijinja::value::Serde(&ctx));
        let session = self.session.clone();
        let flashes = self.session.clone();
        let request_ctx = context! {
            request => self.request.clone(),
            current_user => self.current_user.clone(),
            signed_in => self.signed_in.clone(),
            csrf_token => Value::from_function(move || -> Result<String, TplError> {
                session.as_ref().map(csrf::generate_token).ok_or_else(|| {
                    TplError::new(ErrorKind::InvalidOperation, "csrf_token() needs sessions (the core middleware is off)")
                })
            }),
            get_flashed_messages => Value::from_function(move |kwargs: Kwargs| -> Result<Value, TplError> {
                let with_categories: bool = kwargs.get::<Option<bool>>("with_categories")?.unwrap_or(false);
                kwargs.assert_all_used()?;
                let list = flashes.as_ref().map(Session::take_flashes).unwrap_or_default();
                Ok(if with_categories {
                    Value::from(minijinja::value::Serde(list.iter().map(|f| (&f.category, &f.message)).collect::<Vec<_>>()))
                } else {
                    Value::from(minijinja::value::Serde(list.iter().map(|f| &f.message).collect::<Vec<_>>()))
                })
            }),
        };
        let tpl = self
            .app
            .templates()
            .env()
            .get_template(name)
            .map_err(|e| render_error(name, &e))?;
        tpl.render(context! { ..user, ..request_ctx })
            .map_err(|e| render_error(name, &e))
    }
}

fn render_error(name: &str, e: &TplError) -> HttpError {
    let mut detail = format!("template `{name}` failed: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(&format!(": {s}"));
        source = s.source();
    }
    tracing::error!("{detail}");
    HttpError::internal(detail)
}

impl<S> FromRequestParts<S> for Templates
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = RequestContext::session(&parts.extensions).cloned();
        let id = RequestContext::id(&parts.extensions).map(|r| r.as_str().to_owned());
        let identity = match &session {
            Some(s) => Some(crate::identity::of(s).await),
            None => None,
        };
        let mut tpl = Templates::for_request(
            AppState::from_ref(state),
            session,
            parts.method.as_str(),
            parts.uri.path(),
            id,
        );
        (tpl.current_user, tpl.signed_in) = user_values(identity);
        Ok(tpl)
    }
}
