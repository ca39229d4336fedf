//! The pools of one app ([`Databases`], in its state) and the [`Db`]
//! extractor handlers use.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use phial_core::changes::ChangeFeed;
use phial_core::config::redact_url;
use phial_core::{AppState, HttpError};
use sea_orm::DatabaseConnection;

use crate::error::OrmError;

/// Every database of the app: the default one and the named binds. Cheap
/// to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct Databases(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    default: (String, DatabaseConnection),
    binds: BTreeMap<String, (String, DatabaseConnection)>,
}

impl Databases {
    pub(crate) fn new(
        url: String,
        default: DatabaseConnection,
        binds: BTreeMap<String, (String, DatabaseConnection)>,
    ) -> Self {
        Databases(Arc::new(Inner {
            default: (url, default),
            binds,
        }))
    }

    /// The default database.
    pub fn default_db(&self) -> &DatabaseConnection {
        &self.0.default.1
    }

    /// A named bind.
    pub fn bind(&self, name: &str) -> Result<&DatabaseConnection, OrmError> {
        self.0
            .binds
            .get(name)
            .map(|(_, c)| c)
            .ok_or_else(|| OrmError::UnknownBind(name.to_owned()))
    }

    /// `(name, url)` of every database, the default first (URLs keep their
    /// passwords: redact before showing them).
    pub fn urls(&self) -> impl Iterator<Item = (&str, &str)> {
        std::iter::once(("default", self.0.default.0.as_str())).chain(
            self.0
                .binds
                .iter()
                .map(|(n, (u, _))| (n.as_str(), u.as_str())),
        )
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = (&str, &str, &DatabaseConnection)> {
        std::iter::once(("default", self.0.default.0.as_str(), &self.0.default.1)).chain(
            self.0
                .binds
                .iter()
                .map(|(n, (u, c))| (n.as_str(), u.as_str(), c)),
        )
    }

    /// Pings every database; the first failure names it.
    pub async fn ping_all(&self) -> Result<(), String> {
        for (name, url, conn) in self.all() {
            conn.ping()
                .await
                .map_err(|e| format!("database `{name}` at {}: {e}", redact_url(url)))?;
        }
        Ok(())
    }

    /// Closes every pool (at shutdown).
    pub async fn close_all(&self) {
        for (name, _, conn) in self.all() {
            if let Err(e) = conn.close_by_ref().await {
                tracing::warn!("closing database `{name}`: {e}");
            }
        }
    }
}

/// The default database, for handlers: `async fn list(db: Db) -> ...`.
///
/// Writes go through its helpers (`db.insert(..)`, `db.update(..)`,
/// `db.delete(..)`, `db.insert_bulk(..)`, `db.transaction(..)`), which
/// publish to the app's change feed: cached pages tagged with the table
/// are dropped, and the admin's live pages and Socket.IO feeds hear of it. Reads
/// use sea-orm on [`conn`](Db::conn). `Db` does not deref to the
/// connection, so skipping the feed is never an accident.
///
/// ```no_run
/// # use phial_orm::{Db, OrmError};
/// # async fn doc<E: sea_orm::EntityTrait>(db: Db) -> Result<(), OrmError> {
/// use sea_orm::EntityTrait;
/// let rows = E::find().all(db.conn()).await?; // a read
/// # Ok(()) }
/// ```
///
/// Handing `Db` itself to sea-orm does not compile, so a write cannot skip
/// the feed by accident:
///
/// ```compile_fail
/// # use phial_orm::Db;
/// # async fn doc<E: sea_orm::EntityTrait>(db: Db) {
/// use sea_orm::EntityTrait;
/// let rows = E::find().all(&*db).await; // `Db` is not a connection
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
    changes: ChangeFeed,
}

impl Db {
    /// A handle on `conn` that publishes to `changes`.
    pub fn new(conn: DatabaseConnection, changes: ChangeFeed) -> Self {
        Db { conn, changes }
    }

    /// The sea-orm connection, for reads and for what the helpers do not
    /// cover. A write made here (`model.insert(db.conn())`, raw SQL)
    /// **skips the change feed**: no cache invalidation, no live update.
    /// Publish it yourself with `db.changes().publish(..)` if it matters.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The change feed writes publish to.
    pub fn changes(&self) -> &ChangeFeed {
        &self.changes
    }

    /// The default database of a built app, outside a request (CLI
    /// commands, startup hooks, tests).
    pub fn from_state(app: &AppState) -> Option<Db> {
        let dbs = app.get::<Databases>()?;
        Some(Db::new(dbs.default_db().clone(), app.changes().clone()))
    }
}

// A route taking these in an app without `Orm` fails to build.
phial_core::sentinel!(Db, requires Databases, "the `Orm` extension: `.register(phial::orm::Orm::new())`");
phial_core::state_extractor!(Databases, extension "Orm", register "phial::orm::Orm::new()");

impl<S> FromRequestParts<S> for Db
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let dbs = Databases::from_request_parts(parts, state).await?;
        Ok(Db::new(
            dbs.default_db().clone(),
            AppState::from_ref(state).changes().clone(),
        ))
    }
}
