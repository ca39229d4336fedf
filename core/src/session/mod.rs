//! Signed-cookie sessions and flash messages, as in Flask: the data lives in
//! the cookie, signed (not encrypted) with the secret key, so every node that
//! shares the secret accepts it.
//!
//! ```
//! use phial_core::Session;
//! async fn visit(session: Session) -> String {
//!     let n: u64 = session.get("visits").unwrap_or(0) + 1;
//!     session.insert("visits", n).unwrap();
//!     format!("visit {n}")
//! }
//! ```

mod codec;
mod context;
mod flash;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use cookie::{Cookie, SameSite};
use http::header::{COOKIE, SET_COOKIE, VARY};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub(crate) use context::RequestContext;

use crate::error::HttpError;
use crate::request_id::RequestId;
use crate::state::AppState;

/// `session.store` (it is configuration; here too, where sessions are).
pub use crate::config::StoreKind;
use codec::CookieProblem;
pub(crate) use codec::Keys;
pub use flash::Flash;
pub(crate) use store::Offer;
pub use store::{DynSessionStore, MemorySessionStore, SessionStore, SessionStores, StoreError};

/// The header a page's script sends with requests no person asked for.
pub const BACKGROUND_HEADER: &str = "x-phial-background";

/// A value could not be stored in the session.
#[derive(Debug, thiserror::Error)]
#[error("session value for `{key}` cannot be stored as JSON: {source}")]
pub struct SessionError {
    key: String,
    source: serde_json::Error,
}

#[derive(Default)]
struct SessionData {
    loaded: bool,
    data: Map<String, Value>,
    modified: bool,
    accessed: bool,
    rejected: Option<CookieProblem>,
}

/// The session's part of a request: the cookies it came with (parsed on
/// first use) and the data.
struct State {
    cookies: Vec<HeaderValue>,
    data: Mutex<SessionData>,
}

/// What the core middleware shares with the request's extractors, in one
/// allocation: the app, the request id and, when sessions are on, the
/// session.
struct Shared {
    app: AppState,
    id: Option<RequestId>,
    state: Option<State>,
    /// The matched route's pattern, set by the route layer when metrics
    /// are on (see `request_metrics`).
    route: std::sync::OnceLock<axum::extract::MatchedPath>,
    /// Who is signed in, once someone asked (see `identity`).
    identity: crate::identity::Memo,
    /// The page's own script asked, not the person (`X-Phial-Background`):
    /// a sign-in's idle timer is not renewed by it.
    background: bool,
}

/// The current request's session. Cheap to clone; loaded from the cookie on
/// first use, written back (re-signed) only when changed.
///
/// A cookie that fails verification (tampered, signed with a retired key,
/// expired) is ignored: the session starts empty and the bad cookie is
/// removed, as Flask does; forms posted with it then fail the CSRF check.
#[derive(Clone)]
pub struct Session(Arc<Shared>);

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("data", &self.lock().data)
            .finish()
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Session {
    /// A request's shared state: its id, and its session when `headers`
    /// (the request's) are given; nothing is parsed yet. The middleware
    /// keeps one handle, the request's extensions the other; it is a
    /// session only when sessions are on ([`is_on`](Self::is_on)).
    pub(crate) fn for_request(
        app: AppState,
        id: Option<RequestId>,
        headers: Option<&HeaderMap>,
    ) -> Self {
        let background = headers.is_some_and(|h| h.contains_key(BACKGROUND_HEADER));
        let state = headers.map(|h| State {
            // No cookie, no allocation.
            cookies: h.get_all(COOKIE).iter().cloned().collect(),
            data: Mutex::new(SessionData::default()),
        });
        Session(Arc::new(Shared {
            app,
            id,
            state,
            route: std::sync::OnceLock::new(),
            identity: Default::default(),
            background,
        }))
    }

    /// Records the route that matched (the first one: a nested router's
    /// outer layer and its inner route agree on the full pattern).
    pub(crate) fn set_route(&self, path: axum::extract::MatchedPath) {
        let _ = self.0.route.set(path);
    }

    /// The matched route's pattern, when metrics recorded one.
    pub(crate) fn route(&self) -> Option<&str> {
        self.0.route.get().map(axum::extract::MatchedPath::as_str)
    }

    /// Whether the request was made by a page's script on its own
    /// (`X-Phial-Background: 1`: a live list refreshing), not by a
    /// person: such requests do not renew a sign-in's idle timer.
    pub fn is_background(&self) -> bool {
        self.0.background
    }

    pub(crate) fn identity_memo(&self) -> &crate::identity::Memo {
        &self.0.identity
    }

    /// Whether this is a session (sessions are on), not only the id.
    pub(crate) fn is_on(&self) -> bool {
        self.0.state.is_some()
    }

    /// The request's id, when request ids are on.
    pub(crate) fn request_id(&self) -> Option<&RequestId> {
        self.0.id.as_ref()
    }

    fn state(&self) -> &State {
        self.0
            .state
            .as_ref()
            .expect("a Session reaches users only while sessions are on")
    }

    fn lock(&self) -> MutexGuard<'_, SessionData> {
        let mut guard = self.lock_quietly();
        guard.accessed = true;
        guard
    }

    /// The data, loaded, without marking the response as depending on it.
    fn lock_quietly(&self) -> MutexGuard<'_, SessionData> {
        let mut guard = self.state().data.lock().unwrap_or_else(|p| p.into_inner());
        if !guard.loaded {
            guard.loaded = true;
            self.load(&mut guard);
        }
        guard
    }

    fn load(&self, state: &mut SessionData) {
        let core = self.0.app.core();
        let name = core.session.cookie_name.as_str();
        let raw = self
            .state()
            .cookies
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name);
        let Some(raw) = raw else { return };
        match self
            .0
            .app
            .0
            .keys
            .decode(raw.value(), core.session.max_age_secs, now_secs())
        {
            Ok(decoded) => {
                state.data = decoded.data;
                // Re-sign with the current key so the old one can retire.
                state.modified = decoded.signed_with_fallback;
            }
            Err(problem) => {
                tracing::info!(
                    ?problem,
                    "ignoring a session cookie that failed verification"
                );
                state.rejected = Some(problem);
            }
        }
    }

    /// A value, decoded; `None` when missing or of another shape.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let guard = self.lock();
        guard.data.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// The signed-in user's id under `key`, as a login handler stores it:
    /// a non-empty string or a number (as text). Anything else (`false`,
    /// `{}`, an empty string left behind) is nobody. REST guards and socket
    /// namespaces read users through this one rule.
    ///
    /// ```
    /// # fn doc(session: phial_core::Session) {
    /// session.insert("user_id", 7).unwrap();
    /// assert_eq!(session.user_id("user_id").as_deref(), Some("7"));
    /// # }
    /// ```
    pub fn user_id(&self, key: &str) -> Option<String> {
        match self.get::<Value>(key)? {
            Value::String(s) if !s.is_empty() => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Whether the session holds `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.lock().data.contains_key(key)
    }

    /// Whether the session holds `key`, without making the response
    /// depend on the session (no `Vary: Cookie`, still cacheable): for
    /// middleware that only looks whether there is anything to do, such
    /// as `phial::auth` finding no sign-in on an anonymous visitor's page.
    pub fn peek_contains(&self, key: &str) -> bool {
        self.lock_quietly().data.contains_key(key)
    }

    /// Stores a value.
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|source| SessionError {
            key: key.to_owned(),
            source,
        })?;
        let mut guard = self.lock();
        guard.data.insert(key.to_owned(), value);
        guard.modified = true;
        Ok(())
    }

    /// Removes a value, returning it.
    pub fn remove(&self, key: &str) -> Option<Value> {
        let mut guard = self.lock();
        let old = guard.data.remove(key);
        guard.modified |= old.is_some();
        old
    }

    /// Empties the session (logout); the cookie is deleted.
    pub fn clear(&self) {
        let mut guard = self.lock();
        guard.modified |= !guard.data.is_empty();
        guard.data.clear();
    }

    pub(crate) fn with_data<R>(
        &self,
        f: impl FnOnce(&mut Map<String, Value>, &mut bool) -> R,
    ) -> R {
        let mut guard = self.lock();
        let SessionData { data, modified, .. } = &mut *guard;
        f(data, modified)
    }

    pub(crate) fn app(&self) -> &AppState {
        &self.0.app
    }

    /// The session of the request these extensions belong to (for
    /// middleware; handlers use the extractor).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<Session> {
        RequestContext::session(extensions).cloned()
    }

    /// Whether the handler read or wrote the session: its response then
    /// depends on who asked (`Vary: Cookie`) and must not be shared
    /// through a cache.
    pub fn accessed(&self) -> bool {
        self.state()
            .data
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .accessed
    }

    /// Writes the cookie to the response when the session changed, removes
    /// a bad one, and marks the response as varying by cookie when the
    /// session was read.
    pub(crate) fn finish(&self, headers: &mut HeaderMap) {
        let state = self.state().data.lock().unwrap_or_else(|p| p.into_inner());
        if !state.accessed {
            return;
        }
        headers.append(VARY, HeaderValue::from_static("cookie"));
        let core = self.0.app.core();
        let cfg = &core.session;
        let set = if state.modified && !state.data.is_empty() {
            let value = self.0.app.0.keys.encode(&state.data, now_secs());
            if value.len() > 4000 {
                tracing::warn!(
                    bytes = value.len(),
                    "session cookie is over 4000 bytes; browsers may drop it: keep less in the session"
                );
            }
            Some(
                Cookie::build((cfg.cookie_name.as_str(), value))
                    .max_age(cookie::time::Duration::seconds(cfg.max_age_secs as i64)),
            )
        } else if state.modified || state.rejected.is_some() {
            Some(
                Cookie::build((cfg.cookie_name.as_str(), "")).max_age(cookie::time::Duration::ZERO),
            )
        } else {
            None
        };
        let Some(cookie) = set else { return };
        let same_site = match cfg.same_site {
            crate::config::SameSite::Strict => SameSite::Strict,
            crate::config::SameSite::Lax => SameSite::Lax,
            crate::config::SameSite::None => SameSite::None,
        };
        let mut cookie = cookie
            .http_only(true)
            .secure(cfg.secure)
            .same_site(same_site)
            .path(cfg.path.clone());
        if let Some(domain) = &cfg.domain {
            cookie = cookie.domain(domain.clone());
        }
        match HeaderValue::try_from(cookie.build().encoded().to_string()) {
            Ok(v) => {
                headers.append(SET_COOKIE, v);
            }
            Err(e) => tracing::error!("session cookie is not a valid header value: {e}"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        RequestContext::session(&parts.extensions).cloned().ok_or_else(|| {
            HttpError::internal("sessions are off (config key `session.enabled`): turn them on to use `Session`")
        })
    }
}
