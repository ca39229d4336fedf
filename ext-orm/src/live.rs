//! A change feed another extension asks the socket extension to open: the
//! admin's live list and detail pages. The extension contributes a
//! [`LiveFeed`] (`app.contribute(LiveFeed::new(..))`); when `phial-socket`
//! is registered (with its `orm` feature) it opens the namespace, lets in
//! only the clients `caller` recognises, and lets them `watch` the listed
//! tables their policy and grants allow, as [`Socket::feed`] does for the
//! app's own namespaces. Without the socket extension nothing happens: the
//! pages work, without live updates.
//!
//! [`Socket::feed`]: https://docs.rs/phial-socket
//!
//! ```
//! use phial_orm::live::LiveFeed;
//! use phial_orm::policy::Caller;
//! let feed = LiveFeed::new("/phial-admin", ["post"], |_app, session| {
//!     let id: String = session?.get("staff")?;
//!     Some(Caller::user(id))
//! });
//! assert_eq!(feed.namespace, "/phial-admin");
//! ```

use std::fmt;
use std::sync::Arc;

use phial_core::{AppState, Session};

use crate::policy::Caller;

type CallerFn = dyn Fn(&AppState, Option<&Session>) -> Option<Caller> + Send + Sync;

/// Who a session belongs to, as an extension that signs people in
/// recognises them (the admin's staff, with their roles' grants), kept in
/// the app's state so every way in sees the same caller: REST's
/// `Guard::session_caller()`, the admin's live namespace.
///
/// ```
/// use phial_orm::live::SessionCaller;
/// use phial_orm::policy::Caller;
/// let staff = SessionCaller::new(|_app, session| Some(Caller::user(session?.user_id("staff")?)));
/// # let _ = staff;
/// ```
#[derive(Clone)]
pub struct SessionCaller(pub Arc<CallerFn>);

impl fmt::Debug for SessionCaller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionCaller(..)")
    }
}

impl SessionCaller {
    /// A recogniser.
    pub fn new(
        f: impl Fn(&AppState, Option<&Session>) -> Option<Caller> + Send + Sync + 'static,
    ) -> Self {
        SessionCaller(Arc::new(f))
    }

    /// The session's caller, if it is one of theirs.
    pub fn caller(&self, app: &AppState, session: Option<&Session>) -> Option<Caller> {
        (self.0)(app, session)
    }
}

/// A change-feed namespace for the socket extension to open (see the
/// module docs).
#[derive(Clone)]
pub struct LiveFeed {
    /// The Socket.IO namespace (`/phial-admin`).
    pub namespace: String,
    /// The tables its clients may watch.
    pub tables: Vec<String>,
    /// Who a connecting client is, from the app and its session: `None`
    /// refuses the connection ("sign in first").
    pub caller: Arc<CallerFn>,
}

impl fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveFeed")
            .field("namespace", &self.namespace)
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

impl LiveFeed {
    /// A feed of `tables` in `namespace`, for the clients a
    /// [`SessionCaller`] knows.
    pub fn for_sessions<I, S>(namespace: impl Into<String>, tables: I, who: &SessionCaller) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        LiveFeed {
            namespace: namespace.into(),
            tables: tables.into_iter().map(Into::into).collect(),
            caller: who.0.clone(),
        }
    }

    /// A feed of `tables` in `namespace`, for the clients `caller` knows.
    pub fn new<I, S>(
        namespace: impl Into<String>,
        tables: I,
        caller: impl Fn(&AppState, Option<&Session>) -> Option<Caller> + Send + Sync + 'static,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        LiveFeed {
            namespace: namespace.into(),
            tables: tables.into_iter().map(Into::into).collect(),
            caller: Arc::new(caller),
        }
    }
}
