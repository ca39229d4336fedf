//! Who is signed in on a request: one [`Identity`] per request, resolved
//! on first use (never for a request that does not ask) by the
//! [`Resolver`] an extension put in the app's state — `phial::auth`,
//! which reads the session's server-side records and loads the users. With
//! no resolver, every request is anonymous.
//!
//! Every surface asks here — pages through `CurrentUser`, REST's guards,
//! Socket.IO at connect, the admin, rate limits keyed by user — so a
//! sign-out, a deactivated account or a changed password means the same on
//! all of them. When the records cannot be read (the session store is
//! down) the answer is [`IdentityError::Unavailable`], a 503: never
//! "anonymous" for a request that carries a sign-in.
//!
//! ```
//! use phial_core::identity;
//! use phial_core::{HttpError, Session};
//! async fn page(session: Session) -> Result<String, HttpError> {
//!     let who = identity::of(&session).await?;
//!     Ok(match who.first() {
//!         Some(user) => format!("hello, {}", user.name()),
//!         None => "hello, stranger".to_owned(),
//!     })
//! }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use http::StatusCode;

use crate::error::HttpError;
use crate::session::Session;
use crate::state::AppState;

/// One signed-in user of one realm (the app's users, the admin's staff).
#[derive(Clone)]
pub struct SignedIn {
    realm: Arc<str>,
    id: String,
    name: String,
    session: String,
    fresh_at: u64,
    values: http::Extensions,
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("realm", &self.realm)
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SignedIn {
    /// A signed-in user: `realm` (`user`, `staff`), their id and display
    /// name, `session` (a public handle of the sign-in, not a secret: the
    /// room their sockets join) and when they last gave their password
    /// (seconds since the epoch).
    pub fn new(
        realm: Arc<str>,
        id: impl Into<String>,
        name: impl Into<String>,
        session: impl Into<String>,
        fresh_at: u64,
    ) -> Self {
        SignedIn {
            realm,
            id: id.into(),
            name: name.into(),
            session: session.into(),
            fresh_at,
            values: http::Extensions::new(),
        }
    }

    /// The same, carrying `value` (the loaded user, the policies' caller):
    /// read back with [`get`](Self::get).
    pub fn with<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.values.insert(value);
        self
    }

    /// A value the resolver attached (the user row, the `Caller`).
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values.get::<T>()
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The user's id, as text.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The user's display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sign-in's public handle (hashed from its secret key).
    pub fn session_handle(&self) -> &str {
        &self.session
    }

    /// When the user last entered their password (seconds since the
    /// epoch); 0 for a sign-in restored from a remember-me token.
    pub fn fresh_at(&self) -> u64 {
        self.fresh_at
    }
}

/// Everyone signed in on a request: at most one user per realm.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    users: Vec<SignedIn>,
}

impl Identity {
    /// Nobody.
    pub fn anonymous() -> Self {
        Identity::default()
    }

    /// These users.
    pub fn new(users: Vec<SignedIn>) -> Self {
        Identity { users }
    }

    /// The user signed in to `realm`.
    pub fn get(&self, realm: &str) -> Option<&SignedIn> {
        self.users.iter().find(|u| &*u.realm == realm)
    }

    /// The first realm's user (resolvers list the app's users first).
    pub fn first(&self) -> Option<&SignedIn> {
        self.users.first()
    }

    /// Every signed-in user.
    pub fn users(&self) -> &[SignedIn] {
        &self.users
    }

    /// Whether nobody is signed in.
    pub fn is_anonymous(&self) -> bool {
        self.users.is_empty()
    }
}

/// Why nobody can say who is calling.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The sign-in records could not be read (the session store or the
    /// users' table is unreachable): the request is refused rather than
    /// served as anonymous.
    #[error("sign-ins cannot be checked right now ({0}); try again shortly")]
    Unavailable(String),
}

impl From<IdentityError> for HttpError {
    fn from(e: IdentityError) -> Self {
        HttpError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

/// What resolves a request's identity (implemented by `phial::auth`,
/// put in the app's state as `Arc<dyn Resolver>`).
pub trait Resolver: Send + Sync + 'static {
    /// Who `session` belongs to. May update the session (drop a sign-in
    /// that ended, renew one from a remember-me token).
    fn resolve<'a>(
        &'a self,
        app: &'a AppState,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Identity, IdentityError>>;

    /// Whether `session` refers to any sign-in (so that resolving it is
    /// worth a round trip); anonymous sessions answer without one.
    fn refers(&self, session: &Session) -> bool;

    /// Whether each of `users` (resolved earlier: a socket's, at connect)
    /// is still signed in, without touching anything: for long-lived
    /// connections that re-check now and then. The default says yes.
    fn alive<'a>(
        &'a self,
        app: &'a AppState,
        users: &'a [SignedIn],
    ) -> BoxFuture<'a, Result<Vec<bool>, IdentityError>> {
        let _ = app;
        Box::pin(async move { Ok(vec![true; users.len()]) })
    }
}

/// Whether each of `users` is still signed in, by the app's resolver (see
/// [`Resolver::alive`]); everyone is, without one.
pub async fn alive(app: &AppState, users: &[SignedIn]) -> Result<Vec<bool>, IdentityError> {
    match app.get::<Arc<dyn Resolver>>() {
        Some(r) => r.alive(app, users).await,
        None => Ok(vec![true; users.len()]),
    }
}

/// The memo a request's context keeps.
#[derive(Default)]
pub(crate) struct Memo {
    resolved: tokio::sync::OnceCell<Result<Arc<Identity>, IdentityError>>,
    /// Set by a sign-in or sign-out during the request: wins over the memo.
    replaced: Mutex<Option<Arc<Identity>>>,
}

impl Memo {
    fn replaced(&self) -> Option<Arc<Identity>> {
        self.replaced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Nobody, shared (no allocation per anonymous request).
fn nobody() -> Arc<Identity> {
    static NOBODY: std::sync::LazyLock<Arc<Identity>> =
        std::sync::LazyLock::new(|| Arc::new(Identity::anonymous()));
    NOBODY.clone()
}

/// Who is signed in on the request `session` belongs to; resolved once per
/// request.
pub async fn of(session: &Session) -> Result<Arc<Identity>, IdentityError> {
    let memo = session.identity_memo();
    if let Some(replaced) = memo.replaced() {
        return Ok(replaced);
    }
    let app = session.app();
    let Some(resolver) = app.get::<Arc<dyn Resolver>>() else {
        return Ok(nobody());
    };
    if !session.is_on() || !resolver.refers(session) {
        return Ok(nobody());
    }
    memo.resolved
        .get_or_init(|| async { resolver.resolve(app, session).await.map(Arc::new) })
        .await
        .clone()
}

/// Like [`of`], from a request's extensions (middleware, guards); a
/// request outside the core middleware is anonymous.
pub async fn of_request(extensions: &http::Extensions) -> Result<Arc<Identity>, IdentityError> {
    match crate::session::RequestContext::any(extensions) {
        Some(session) => of(session).await,
        None => Ok(nobody()),
    }
}

/// The identity already resolved for this request, if any (for code that
/// cannot wait: it is `None` until someone awaited [`of`]).
pub fn resolved(extensions: &http::Extensions) -> Option<Arc<Identity>> {
    resolved_for(crate::session::RequestContext::any(extensions)?)
}

/// Like [`resolved`], from the request's session.
pub fn resolved_for(session: &Session) -> Option<Arc<Identity>> {
    let memo = session.identity_memo();
    memo.replaced()
        .or_else(|| memo.resolved.get().and_then(|r| r.as_ref().ok().cloned()))
}

/// Sets the request's identity after a sign-in or sign-out, so the rest
/// of the request sees it (for `phial::auth`).
pub fn replace(session: &Session, identity: Identity) {
    *session
        .identity_memo()
        .replaced
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(identity));
}

/// A sign-in that ended, or a user whose rights changed, for whatever
/// keeps long-lived connections (Socket.IO): their sockets are
/// disconnected on every node, and come back re-checked or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOut {
    /// One sign-in ended (sign-out), by its public handle.
    Session {
        /// The realm.
        realm: String,
        /// [`SignedIn::session_handle`].
        handle: String,
    },
    /// Every sign-in of a user ended (sign out everywhere, deactivated,
    /// new password) or their roles changed.
    User {
        /// The realm.
        realm: String,
        /// The user's id.
        id: String,
    },
}

impl SignOut {
    /// The Socket.IO room whose sockets it concerns.
    pub fn room(&self) -> String {
        match self {
            SignOut::Session { realm, handle } => session_room(realm, handle),
            SignOut::User { realm, id } => user_room(realm, id),
        }
    }
}

/// The room of one sign-in's sockets.
pub fn session_room(realm: &str, handle: &str) -> String {
    format!("phial:signin:{realm}:{handle}")
}

/// The room of every socket of one user.
pub fn user_room(realm: &str, id: &str) -> String {
    format!("phial:user:{realm}:{id}")
}

impl SignedIn {
    /// The rooms a socket of this sign-in joins, so that a [`SignOut`]
    /// reaches it on any node.
    pub fn rooms(&self) -> [String; 2] {
        [
            session_room(&self.realm, &self.session),
            user_room(&self.realm, &self.id),
        ]
    }
}

/// The app's sign-out events (in its state): `phial::auth` publishes,
/// the socket extension disconnects. Cheap to clone.
#[derive(Clone)]
pub struct SignOuts(tokio::sync::broadcast::Sender<SignOut>);

impl fmt::Debug for SignOuts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignOuts")
            .field("listeners", &self.0.receiver_count())
            .finish()
    }
}

impl Default for SignOuts {
    fn default() -> Self {
        SignOuts(tokio::sync::broadcast::channel(1024).0)
    }
}

impl SignOuts {
    /// Tells every listener (nobody listening is fine).
    pub fn publish(&self, event: SignOut) {
        let _ = self.0.send(event);
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SignOut> {
        self.0.subscribe()
    }
}
