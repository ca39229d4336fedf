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
