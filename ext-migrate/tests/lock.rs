//! The migration lock holds or fails loudly: a node that cannot take it
//! within `migrate.lock_timeout_secs` stops, names the holder and applies
//! nothing; the lock is scoped to one database. On PostgreSQL, MariaDB and
//! a SQLite file. Each test holds the lock explicitly from another
//! connection (or file handle) taken the way Phial takes it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use phial_core::cli::Output;
use phial_core::testing::service_url;
use phial_core::{App, BuildErrors, Config};
use phial_migrate::lock_keys;
use phial_migrate::sea_orm_migration::prelude::*;
use phial_migrate::{Migrate, Migrations};
use phial_orm::Orm;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement, Value};

struct M20260201000001CreateItem;

impl MigrationName for M20260201000001CreateItem {
    fn name(&self) -> &str {
        "m20260201_000001_create_item"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20260201000001CreateItem {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("phial_lk_item")
                    .col(ColumnDef::new("id").integer().not_null().primary_key())
                    .to_owned(),
            )
            .await
    }
}

/// Generous bound on any wait here: a lock wait that never ends fails the
/// test instead of hanging it.
const NEVER: Duration = Duration::from_secs(60);

async fn postgres() -> Option<String> {
    service_url(
        "PostgreSQL",
        "PHIAL_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
    .await
}

async fn mariadb() -> Option<String> {
    service_url(
        "MariaDB",
        "PHIAL_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test",
    )
    .await
}

/// `url` pointing at database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let query = path
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

/// One connection, so that a session lock taken on it stays on it.
async fn one_connection(url: &str) -> DatabaseConnection {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1).min_connections(1);
    Database::connect(opts).await.unwrap()
}

/// An empty database `name` on the server at `base`; returns its URL.
async fn fresh_database(base: &str, name: &str) -> String {
    let admin = one_connection(base).await;
    let force = if base.starts_with("postgres") {
        " WITH (FORCE)"
    } else {
        ""
    };
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}{force}"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    with_database(base, name)
}

async fn scalar<T: sea_orm::TryGetable>(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<Value>,
) -> T {
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), sql, values);
    db.query_one_raw(stmt)
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
}

/// Takes Phial's advisory lock on the database at `url` from a connection
/// named `phial-lock-test`; returns it and its backend pid.
async fn hold_postgres(url: &str) -> (DatabaseConnection, i32) {
    let conn = one_connection(&format!("{url}?application_name=phial-lock-test")).await;
    let sql = "SELECT pg_try_advisory_lock($1)";
    let taken: bool = scalar(&conn, sql, vec![lock_keys::POSTGRES_KEY.into()]).await;
    assert!(taken, "the test could not take the lock itself");
    let pid = scalar(&conn, "SELECT pg_backend_pid()", vec![]).await;
    (conn, pid)
}

/// Takes Phial's `GET_LOCK` for the database at `url`; returns the
/// connection and its id.
async fn hold_mariadb(url: &str) -> (DatabaseConnection, i64) {
    let conn = one_connection(url).await;
    let name = lock_keys::mysql_lock_name_of(&conn).await.unwrap();
    let sql = "SELECT CAST(GET_LOCK(?, 0) AS SIGNED)";
    let taken: Option<i64> = scalar(&conn, sql, vec![name.into()]).await;
    assert_eq!(taken, Some(1), "the test could not take the lock itself");
    let id = scalar(&conn, "SELECT CAST(CONNECTION_ID() AS SIGNED)", vec![]).await;
    (conn, id)
}

fn config(url: &str, lock_timeout_secs: u64) -> Config {
    Config::testing()
        .set("database.url", url)
        .set("migrate.lock_timeout_secs", lock_timeout_secs)
}

/// Builds an app that upgrades on startup, bounded by [`NEVER`].
async fn start(config: Config, root: &std::path::Path) -> Result<App, BuildErrors> {
    let mut builder = App::builder(config);
    builder
        .root_path(root)
        .register(Orm::new())
        .register(Migrate::new().migration(M20260201000001CreateItem));
    tokio::time::timeout(NEVER, builder.build())
        .await
        .expect("the lock wait is bounded")
}

/// Starts an app on `url` that must fail on the lock after waiting at
/// least `secs`; returns the error's text.
async fn start_blocked(url: &str, secs: u64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let began = Instant::now();
    let err = start(config(url, secs), dir.path())
        .await
        .expect_err("the lock is held elsewhere: startup must fail")
        .to_string();
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_secs(secs),
        "gave up after {waited:?}, before the {secs}s timeout: {err}"
    );
    assert!(
        err.contains("migration lock") && err.contains("migrate.lock_timeout_secs"),
        "{err}"
    );
    assert!(err.contains("applied nothing"), "{err}");
    err
}

async fn table_exists(db: &DatabaseConnection, table: &str) -> bool {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT COUNT(*) FROM {table}"),
    ))
    .await
    .is_ok()
}

/// Neither the migration's table nor a history row exists.
async fn assert_nothing_applied(url: &str) {
    let db = one_connection(url).await;
    assert!(
        !table_exists(&db, "phial_lk_item").await,
        "a table was created"
    );
    if table_exists(&db, "seaql_migrations").await {
        let rows: i64 = scalar(&db, "SELECT COUNT(*) FROM seaql_migrations", vec![]).await;
        assert_eq!(rows, 0, "a migration was recorded");
    }
    db.close().await.unwrap();
}

/// The migration is applied and recorded once.
async fn assert_applied(url: &str) {
    let db = one_connection(url).await;
    assert!(table_exists(&db, "phial_lk_item").await);
    let rows: i64 = scalar(&db, "SELECT COUNT(*) FROM seaql_migrations", vec![]).await;
    assert_eq!(rows, 1);
    db.close().await.unwrap();
}

#[tokio::test]
async fn postgres_upgrade_waits_for_the_lock_then_fails_naming_the_holder_and_applies_nothing() {
    let Some(base) = postgres().await else { return };
    let url = fresh_database(&base, "phial_lock_pg_busy").await;
    let (holder, pid) = hold_postgres(&url).await;

    let err = start_blocked(&url, 2).await;
    assert!(
        err.contains(&format!("PostgreSQL backend pid {pid}"))
            && err.contains("application `phial-lock-test`")
            && err.contains("client 127.0.0.1")
            && err.contains("`idle` since")
            && err.contains(&format!("pg_terminate_backend({pid})")),
        "{err}"
    );
    assert_nothing_applied(&url).await;

    // Released, the same start goes through: the lock was the only obstacle.
    let sql = "SELECT pg_advisory_unlock($1)";
    let released: bool = scalar(&holder, sql, vec![lock_keys::POSTGRES_KEY.into()]).await;
    assert!(released);
    let dir = tempfile::tempdir().unwrap();
    start(config(&url, 2), dir.path())
        .await
        .unwrap()
        .shutdown()
        .await;
    assert_applied(&url).await;
}

#[tokio::test]
async fn postgres_advisory_locks_are_per_database() {
    let Some(base) = postgres().await else { return };
    let a = fresh_database(&base, "phial_lock_pg_a").await;
    let b = fresh_database(&base, "phial_lock_pg_b").await;
    let (_holder, _) = hold_postgres(&a).await;
    // Held on A: A waits and fails...
    start_blocked(&a, 1).await;
    assert_nothing_applied(&a).await;
    // ...while B, on the same server, migrates.
    let dir = tempfile::tempdir().unwrap();
    start(config(&b, 1), dir.path())
        .await
        .unwrap()
        .shutdown()
        .await;
    assert_applied(&b).await;
}

#[tokio::test]
async fn mariadb_upgrade_waits_for_the_lock_then_fails_naming_the_holder_and_applies_nothing() {
    let Some(base) = mariadb().await else { return };
    let url = fresh_database(&base, "phial_lock_my_busy").await;
    let (holder, id) = hold_mariadb(&url).await;

    let err = start_blocked(&url, 2).await;
    assert!(
        err.contains("`phial_migrate:phial_lock_my_busy`")
            && err.contains(&format!("connection {id} (user `root`"))
            && err.contains("database `phial_lock_my_busy`")
            && err.contains(&format!("KILL {id}")),
        "{err}"
    );
    assert_nothing_applied(&url).await;

    let name = lock_keys::mysql_lock_name_of(&holder).await.unwrap();
    let sql = "SELECT CAST(RELEASE_LOCK(?) AS SIGNED)";
    let released: Option<i64> = scalar(&holder, sql, vec![name.into()]).await;
    assert_eq!(released, Some(1));
    let dir = tempfile::tempdir().unwrap();
    start(config(&url, 2), dir.path())
        .await
        .unwrap()
        .shutdown()
        .await;
    assert_applied(&url).await;
}

#[tokio::test]
async fn mariadb_databases_on_one_server_do_not_block_each_other() {
    let Some(base) = mariadb().await else { return };
    let a = fresh_database(&base, "phial_lock_my_a").await;
    let b = fresh_database(&base, "phial_lock_my_b").await;
    let (_holder, _) = hold_mariadb(&a).await;
    start_blocked(&a, 1).await;
    assert_nothing_applied(&a).await;
    let dir = tempfile::tempdir().unwrap();
    start(config(&b, 1), dir.path())
        .await
        .unwrap()
        .shutdown()
        .await;
    assert_applied(&b).await;
}

/// A SQLite database file in `dir`, and its lock file held by another handle.
fn sqlite_held(dir: &std::path::Path) -> (String, std::fs::File, String) {
    let url = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let path = lock_keys::sqlite_lock_file(&url).unwrap();
    let handle = std::fs::File::create(&path).unwrap();
    handle
        .try_lock()
        .expect("the test could not take the lock itself");
    (url, handle, path.display().to_string())
}

#[tokio::test]
async fn sqlite_upgrade_waits_for_the_lock_file_then_fails_naming_it_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (url, handle, lock_file) = sqlite_held(dir.path());

    let err = start_blocked(&url, 2).await;
    assert!(err.contains(&format!("lock file `{lock_file}`")), "{err}");
    assert_nothing_applied(&url).await;

    drop(handle);
    start(config(&url, 2), dir.path())
        .await
        .unwrap()
        .shutdown()
        .await;
    assert_applied(&url).await;
}

#[tokio::test]
async fn the_db_cli_fails_on_a_held_lock_with_the_holder_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _handle, lock_file) = sqlite_held(dir.path());
    let (out, _out_buf) = Output::buffer();
    let root = dir.path().to_path_buf();
    let factory = move |c: Config| {
        let root = root.clone();
        async move { Ok(start(c, &root).await?) }
    };
    // As the binary runs it: parsed first, built for `db` (no upgrade on
    // startup), then the command waits for the lock.
    let (err, err_buf) = Output::buffer();
    let run =
        phial_core::cli::run_with(factory, config(&url, 1), ["app", "db", "upgrade"], out, err);
    let code = tokio::time::timeout(NEVER, run)
        .await
        .expect("the lock wait is bounded");
    let text = String::from_utf8(err_buf.lock().unwrap().clone()).unwrap();
    assert_eq!(code, ExitCode::FAILURE, "{text}");
    assert!(
        text.contains(&format!("lock file `{lock_file}`")) && text.contains("applied nothing"),
        "{text}"
    );
    assert_nothing_applied(&url).await;
}

#[tokio::test]
async fn startup_gives_up_on_the_lock_before_the_startup_timeout_cuts_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _handle, lock_file) = sqlite_held(dir.path());
    // The lock wait (60 s) is longer than startup may take (4 s): startup
    // stops waiting first (after 3 s) and says who holds the lock.
    let err = start(config(&url, 60).set("startup_timeout_secs", 4), dir.path())
        .await
        .expect_err("the lock is held elsewhere")
        .to_string();
    assert!(err.contains(&format!("lock file `{lock_file}`")), "{err}");
    assert!(!err.contains("did not finish within"), "{err}");
}

#[tokio::test]
async fn the_lock_timeout_comes_from_config_and_defaults_to_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    for (config, secs) in [
        (Config::testing(), 60),
        (Config::testing().set("migrate.lock_timeout_secs", 7), 7),
    ] {
        let app = start(config.set("database.url", "sqlite::memory:"), dir.path())
            .await
            .unwrap();
        let migrations = app.state().get::<Migrations>().unwrap();
        assert_eq!(migrations.lock_timeout(), Duration::from_secs(secs));
        app.shutdown().await;
    }
}
