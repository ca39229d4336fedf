//! Guards recognise who is calling (a signed-in session user, a bearer
//! token) before the model's [`Policy`](phial_orm::policy::Policy) decides
//! what they may do. A guard that recognises nobody refuses the request
//! with 401; [`Guard::or_anonymous`] lets unrecognised callers through as
//! anonymous, for the policy to judge.
//!
//! ```
//! use phial_rest::Guard;
//! // Writes: a signed-in user (session key `user_id`) or the API token.
//! let writes = Guard::session_user("user_id").or(Guard::bearer_from_config("blog.api_token"));
//! // Reads: the same people, or anyone else as anonymous.
//! let reads = writes.clone().or_anonymous();
//! # let _ = reads;
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

use http::header::AUTHORIZATION;
use http::request::Parts;
use phial_core::{AppState, Session};
use phial_orm::policy::{Action, Caller};

type Check = Arc<dyn Fn(&Parts, &AppState) -> Option<Caller> + Send + Sync>;

/// Recognises callers (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Guard {
    check: Check,
    /// Whether a refusal should invite a bearer token (`WWW-Authenticate`).
    pub(crate) bearer: bool,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("bearer", &self.bearer)
            .finish()
    }
}

impl Guard {
    /// Your own recognition: `Some(caller)` lets the request through.
    pub fn new(f: impl Fn(&Parts, &AppState) -> Option<Caller> + Send + Sync + 'static) -> Self {
        Guard {
            check: Arc::new(f),
            bearer: false,
        }
    }

    /// Everyone, as anonymous.
    pub fn anyone() -> Self {
        Guard::new(|_, _| Some(Caller::anonymous()))
    }

    /// A user signed in through `phial::auth`, in any realm (the app's
    /// users first, then the admin's staff): their `Caller` (with a staff
    /// user's grants). Ends with the sign-in: a copied cookie is nobody
    /// once its owner signed out.
    pub fn signed_in() -> Self {
        Guard::new(|parts, _| {
            let who = phial_core::identity::resolved(&parts.extensions)?;
            who.users().iter().find_map(|u| u.get::<Caller>().cloned())
        })
    }

    /// A user signed in through `phial::auth` in `realm` (`user`, `staff`).
    pub fn realm(realm: &'static str) -> Self {
        Guard::new(move |parts, _| {
            let who = phial_core::identity::resolved(&parts.extensions)?;
            who.get(realm)?.get::<Caller>().cloned()
        })
    }

    /// A user an app without `phial::auth` signed in by hand: the session
    /// holds `key` (a non-empty string or a number, the user's id; see
    /// `Session::user_id`). Such a sign-in lives in the cookie alone and
    /// cannot be ended on the server: apps with accounts use
    /// [`Guard::signed_in`].
    pub fn session_user(key: &'static str) -> Self {
        Guard::new(move |parts, _| {
            let session = Session::from_extensions(&parts.extensions)?;
            Some(Caller::user(session.user_id(key)?))
        })
    }

    /// The admin's signed-in staff, with the grants of their roles, so a
    /// staff user's rights are the same through the API as in the admin:
    /// [`Guard::realm`]`("staff")`.
    pub fn session_caller() -> Self {
        Guard::realm("staff")
    }

    /// `Authorization: Bearer <token>` with this token. The caller is the
    /// token `api` (role `api`) with every scope: a grant of every action
    /// on every table, so it writes whatever the policies let tokens.
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::bearer_scoped(token, &Action::ALL)
    }

    /// Like [`bearer`](Self::bearer), with only these scopes (`&[Action::List,
    /// Action::Read]`: a read-only token).
    pub fn bearer_scoped(token: impl Into<String>, scopes: &[Action]) -> Self {
        let token = token.into();
        let scopes = scopes.to_vec();
        let mut guard = Guard::new(move |parts, _| bearer_matches(parts, &token, &scopes));
        guard.bearer = true;
        guard
    }

    /// Like [`bearer`](Self::bearer), with the token read from a config key
    /// (so it comes from the environment, never from the code). An unset
    /// or empty key accepts no token.
    pub fn bearer_from_config(key: &'static str) -> Self {
        Self::bearer_from_config_scoped(key, &Action::ALL)
    }

    /// Like [`bearer_from_config`](Self::bearer_from_config), with only
    /// these scopes.
    pub fn bearer_from_config_scoped(key: &'static str, scopes: &[Action]) -> Self {
        let scopes = scopes.to_vec();
        let token: OnceLock<Option<String>> = OnceLock::new();
        let mut guard = Guard::new(move |parts, app| {
            let token = token.get_or_init(|| {
                let value = app
                    .config()
                    .get::<String>(key)
                    .ok()
                    .filter(|t| !t.is_empty());
                if value.is_none() {
                    tracing::warn!("config key `{key}` is not set: no bearer token is accepted");
                }
                value
            });
            bearer_matches(parts, token.as_deref()?, &scopes)
        });
        guard.bearer = true;
        guard
    }

    /// This guard, or else `other`.
    pub fn or(self, other: Guard) -> Self {
        let (a, b) = (self.check, other.check);
        Guard {
            check: Arc::new(move |parts, app| a(parts, app).or_else(|| b(parts, app))),
            bearer: self.bearer || other.bearer,
        }
    }

    /// This guard, or else anonymous (never refuses).
    pub fn or_anonymous(self) -> Self {
        self.or(Guard::anyone())
    }

    /// Who is calling, or `None` to refuse.
    pub fn check(&self, parts: &Parts, app: &AppState) -> Option<Caller> {
        (self.check)(parts, app)
    }
}

fn bearer_matches(parts: &Parts, token: &str, scopes: &[Action]) -> Option<Caller> {
    let header = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, given) = header.split_once(' ')?;
    if !(scheme.eq_ignore_ascii_case("bearer")
        && constant_time_eq(given.trim().as_bytes(), token.as_bytes()))
    {
        return None;
    }
    Some(
        scopes
            .iter()
            .fold(Caller::token("api").with_role("api"), |c, a| {
                c.with_grant("*", *a)
            }),
    )
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
