//! One migration run at a time across every node: PostgreSQL's advisory
//! lock, MySQL's `GET_LOCK`, a file lock beside a SQLite database. Each
//! lock is scoped to its database, so databases sharing a server do not
//! wait for each other. The lock is held by a dedicated one-connection
//! pool, and the migrations run on that same connection (session locks
//! belong to a connection).
//!
//! A node waits at most `migrate.lock_timeout_secs` for the lock, then
//! stops with [`MigrateError::LockTimeout`] naming the holder as far as the
//! database can tell. Nothing ever runs without the lock.

use std::time::Duration;

use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    Value,
};
use tokio::time::Instant;

use crate::error::MigrateError;

mod mysql;
mod postgres;
mod sqlite;

pub use mysql::{lock_name as mysql_lock_name, lock_name_of as mysql_lock_name_of};
pub use postgres::POSTGRES_KEY;
pub use sqlite::lock_file as sqlite_lock_file;

/// The longest wait honoured; more would overflow timers and `GET_LOCK`.
const MAX_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long to wait for the lock's own connection.
const CONNECT_WAIT: Duration = Duration::from_secs(30);
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Runs `f` while holding the migration lock of the database at `url`,
/// waiting at most `timeout` for it. `app_db` is the app's own pool, used
/// for SQLite (whose in-memory databases exist only in that pool).
pub(crate) async fn with_lock<T>(
    url: &str,
    app_db: &DatabaseConnection,
    timeout: Duration,
    f: impl AsyncFnOnce(&DatabaseConnection) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    let timeout = timeout.min(MAX_WAIT);
    let backend = app_db.get_database_backend();
    if backend == DbBackend::Sqlite {
        let Some(path) = sqlite_lock_file(url) else {
            return f(app_db).await;
        };
        let held = sqlite::acquire(path, timeout).await?;
        let result = f(app_db).await;
        sqlite::release(held);
        return result;
    }
    let conn = connect(url, backend).await?;
    let result = match SessionLock::acquire(&conn, backend, timeout).await {
        Ok(lock) => {
            let result = f(&conn).await;
            lock.release(&conn).await;
            result
        }
        Err(e) => Err(e),
    };
    let _ = conn.close().await;
    result
}

/// One connection that never silently changes: a session lock held on one
/// connection is not held on its replacement.
async fn connect(url: &str, backend: DbBackend) -> Result<DatabaseConnection, MigrateError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .acquire_timeout(CONNECT_WAIT)
        .max_lifetime(None)
        .idle_timeout(None)
        .test_before_acquire(false)
        .sqlx_logging(false);
    if backend == DbBackend::Postgres && !url.contains("application_name=") {
        // What other nodes see as the holder in `pg_stat_activity`.
        opts.set_application_name(format!("phial-migrate pid {}", std::process::id()));
    }
    Ok(Database::connect(opts).await?)
}

/// The first column of the first row.
pub(super) async fn scalar<T: sea_orm_migration::sea_orm::TryGetable>(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<T, DbErr> {
    let stmt = Statement::from_sql_and_values(conn.get_database_backend(), sql, values);
    let row = conn
        .query_one_raw(stmt)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("no row from `{sql}`")))?;
    row.try_get_by_index(0)
}

/// Calls `attempt` until it returns `true`, or `false` once `timeout` has
/// run out, pausing 50 ms and then twice as long each time up to 1 s.
/// `on_busy` runs once, after the first failed attempt.
/// (Closures returning futures rather than async closures: the latter's
/// futures are not provably `Send` when they borrow.)
pub(super) async fn poll_until<E, A, B>(
    timeout: Duration,
    mut attempt: impl FnMut() -> A,
    on_busy: impl FnOnce() -> B,
) -> Result<bool, E>
where
    A: Future<Output = Result<bool, E>>,
    B: Future<Output = ()>,
{
    let deadline = Instant::now() + timeout;
    if attempt().await? {
        return Ok(true);
    }
    on_busy().await;
    let mut pause = FIRST_PAUSE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        tokio::time::sleep(pause.min(left)).await;
        if attempt().await? {
            return Ok(true);
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Says once that this node waits, and for whom.
pub(super) fn waiting(timeout: Duration, holder: &str) {
    tracing::info!(
        "waiting up to {}s for the migration lock, held by {holder}",
        timeout.as_secs()
    );
}

/// A session lock taken on the lock connection.
enum SessionLock {
    Postgres,
    MySql(String),
}

impl SessionLock {
    async fn acquire(
        conn: &DatabaseConnection,
        backend: DbBackend,
        timeout: Duration,
    ) -> Result<Self, MigrateError> {
        match backend {
            DbBackend::Postgres => {
                postgres::acquire(conn, timeout).await?;
                Ok(SessionLock::Postgres)
            }
            DbBackend::MySql => {
                let name = mysql::lock_name_of(conn).await?;
                mysql::acquire(conn, &name, timeout).await?;
                Ok(SessionLock::MySql(name))
            }
            other => Err(MigrateError::Lock(format!(
                "no migration lock for {other:?} databases"
            ))),
        }
    }

    /// Releases the lock; a lock that was no longer held is worth a warning
    /// (the migrations may have run partly unguarded).
    async fn release(self, conn: &DatabaseConnection) {
        let outcome = match &self {
            SessionLock::Postgres => postgres::release(conn).await,
            SessionLock::MySql(name) => mysql::release(conn, name).await,
        };
        match outcome {
            Ok(None) => {}
            Ok(Some(why)) => tracing::warn!(
                "the migration lock was not held when releasing it ({why}): the connection may \
                 have been reset during the run; check that no other node migrated at the same time"
            ),
            Err(e) => tracing::warn!(
                "releasing the migration lock: {e} (it goes with its connection, closed now)"
            ),
        }
    }
}
