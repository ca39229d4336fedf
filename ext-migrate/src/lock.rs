//! One migration run at a time across every node: PostgreSQL's advisory
//! lock, MySQL's `GET_LOCK`, a file lock beside a SQLite database. The
//! lock is held by a dedicated one-connection pool, and the migrations run
//! on that same connection (session locks belong to a connection).

use std::path::PathBuf;
use std::time::Duration;

use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

use crate::error::MigrateError;

/// Key of the PostgreSQL advisory lock ("phial" in ASCII).
const PG_KEY: i64 = 0x7068_6961_6c00;
const MYSQL_NAME: &str = "phial_migrate";
/// How long a node waits for another node's migrations.
const WAIT: Duration = Duration::from_secs(300);

fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Runs `f` while holding the migration lock of the database at `url`.
/// `app_db` is the app's own pool, used for SQLite (whose in-memory
/// databases exist only in that pool).
pub(crate) async fn with_lock<T>(
    url: &str,
    app_db: &DatabaseConnection,
    f: impl AsyncFnOnce(&DatabaseConnection) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    match app_db.get_database_backend() {
        DbBackend::Sqlite => {
            let Some(file) = sqlite_file(url) else {
                return f(app_db).await;
            };
            let lock_path = file.with_extension("migrate-lock");
            let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                let handle = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)?;
                handle.lock()?;
                Ok(handle)
            })
            .await
            .map_err(|e| MigrateError::Lock(e.to_string()))?
            .map_err(|e| MigrateError::Lock(format!("cannot lock the migration lock file: {e}")))?;
            let result = f(app_db).await;
            drop(lock);
            result
        }
        backend => {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.max_connections(1)
                .min_connections(1)
                .acquire_timeout(WAIT)
                .sqlx_logging(false);
            let conn = Database::connect(opts).await?;
            let (lock, unlock) = match backend {
                DbBackend::Postgres => (
                    Statement::from_string(backend, format!("SELECT pg_advisory_lock({PG_KEY})")),
                    Statement::from_string(backend, format!("SELECT pg_advisory_unlock({PG_KEY})")),
                ),
                _ => (
                    Statement::from_string(
                        backend,
                        format!("SELECT GET_LOCK('{MYSQL_NAME}', {})", WAIT.as_secs()),
                    ),
                    Statement::from_string(backend, format!("SELECT RELEASE_LOCK('{MYSQL_NAME}')")),
                ),
            };
            conn.execute_raw(lock).await?;
            let result = f(&conn).await;
            if let Err(e) = conn.execute_raw(unlock).await {
                tracing::warn!("releasing the migration lock: {e} (it goes with the connection)");
            }
            let _ = conn.close().await;
            result
        }
    }
}
