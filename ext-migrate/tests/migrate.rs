//! Migrations for real on SQLite, PostgreSQL and MariaDB: upgrade on
//! startup, the `db` CLI, contributed migrations, three nodes starting at
//! once, and a failing migration.

use std::process::ExitCode;

use phial_core::cli::Output;
use phial_core::{App, AppBuilder, BoxError, Config, Profile};
use phial_migrate::sea_orm_migration::prelude::*;
use phial_migrate::{Contributed, Migrate, Migrations};
use phial_orm::{Databases, Orm};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// sea-orm's derive names a migration after its file; these share one.
macro_rules! named {
    ($ty:ident, $name:literal) => {
        impl MigrationName for $ty {
            fn name(&self) -> &str {
                $name
            }
        }
    };
}

const TABLES: [&str; 5] = [
    "phial_mt_post",
    "phial_mt_author",
    "phial_mt_audit",
    "phial_mt_broken",
    "seaql_migrations",
];

struct M20260101000001CreateAuthor;
named!(
    M20260101000001CreateAuthor,
    "m20260101_000001_create_author"
);

#[async_trait::async_trait]
impl MigrationTrait for M20260101000001CreateAuthor {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("phial_mt_author")
                    .col(
                        ColumnDef::new("id")
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new("email")
                            .string_len(200)
                            .not_null()
                            .unique_key(),
                    )
                    .to_owned(),
            )
            .await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("phial_mt_author").to_owned())
            .await
    }
}

struct M20260101000002CreatePost;
named!(M20260101000002CreatePost, "m20260101_000002_create_post");

#[async_trait::async_trait]
impl MigrationTrait for M20260101000002CreatePost {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("phial_mt_post")
                    .col(
                        ColumnDef::new("id")
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("author_id").integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from("phial_mt_post", "author_id")
                            .to("phial_mt_author", "id"),
                    )
                    .to_owned(),
            )
            .await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("phial_mt_post").to_owned())
            .await
    }
}

struct M20260101000003CreateAudit;
named!(M20260101000003CreateAudit, "m20260101_000003_create_audit");

#[async_trait::async_trait]
impl MigrationTrait for M20260101000003CreateAudit {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("phial_mt_audit")
                    .col(
                        ColumnDef::new("id")
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .to_owned(),
            )
            .await
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("phial_mt_audit").to_owned())
            .await
    }
}

/// Creates a table, then fails.
struct M20260101000004Broken;
named!(M20260101000004Broken, "m20260101_000004_broken");

#[async_trait::async_trait]
impl MigrationTrait for M20260101000004Broken {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("phial_mt_broken")
                    .col(ColumnDef::new("id").integer().not_null().primary_key())
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("THIS IS NOT SQL")
            .await?;
        Ok(())
    }
}

/// An extension that ships its own table as a migration.
fn audit_ext(app: &mut AppBuilder) -> Result<(), BoxError> {
    app.contribute(Contributed::new(M20260101000003CreateAudit));
    Ok(())
}

fn migrate() -> Migrate {
    Migrate::new()
        .migration(M20260101000002CreatePost)
        .migration(M20260101000001CreateAuthor)
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn backends() -> Vec<(&'static str, Option<String>)> {
    phial_core::testing::sql_databases().await
}

fn config(url: &Option<String>) -> Config {
    let c = Config::testing();
    match url {
        Some(u) => c.set("database.url", u),
        None => c,
    }
}

async fn clean(url: &Option<String>, root: &std::path::Path) {
    let app = App::builder(config(url))
        .root_path(root)
        .register(Orm::new())
        .build()
        .await
        .unwrap();
    let db = app.state().get::<Databases>().unwrap().default_db().clone();
    for t in TABLES {
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {t}"))
            .await
            .unwrap();
    }
    app.shutdown().await;
}

async fn build(
    config: Config,
    root: &std::path::Path,
    migrate: Migrate,
) -> Result<App, phial_core::BuildErrors> {
    App::builder(config)
        .root_path(root)
        .register(Orm::new())
        .register(audit_ext)
        .register(migrate)
        .build()
        .await
}

async fn table_exists(db: &DatabaseConnection, table: &str) -> bool {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT COUNT(*) FROM {table}"),
    ))
    .await
    .is_ok()
}

/// Runs `app db ARGS` as the binary would (`cli::run_with`: the command
/// line parsed first, then a fresh app built for `db`, shut down after the
/// command); returns the exit code and standard output.
async fn db_cli(config: &Config, root: &std::path::Path, args: &[&str]) -> (ExitCode, String) {
    let (out, buf) = Output::buffer();
    let (err, err_buf) = Output::buffer();
    let mut argv = vec!["app", "db"];
    argv.extend_from_slice(args);
    let root = root.to_path_buf();
    let factory = move |c: Config| {
        let root = root.clone();
        async move { Ok(build(c, &root, migrate()).await?) }
    };
    let code = phial_core::cli::run_with(factory, config.clone(), argv, out, err).await;
    let mut text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    text.push_str(&String::from_utf8(err_buf.lock().unwrap().clone()).unwrap());
    (code, text)
}

/// A pool on the test database, for looking at its tables.
async fn inspect(url: &Option<String>, root: &std::path::Path) -> (App, DatabaseConnection) {
    let app = App::builder(config(url))
        .root_path(root)
        .register(Orm::new())
        .build()
        .await
        .unwrap();
    let db = app.state().get::<Databases>().unwrap().default_db().clone();
    (app, db)
}

#[tokio::test]
async fn startup_applies_every_migration_once_in_order_with_contributed_ones_named() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        clean(&url, dir.path()).await;
        let app = build(config(&url), dir.path(), migrate()).await.unwrap();
        let migrations = app.state().get::<Migrations>().unwrap();
        assert_eq!(
            migrations.names().collect::<Vec<_>>(),
            [
                "m20260101_000001_create_author",
                "m20260101_000002_create_post",
                "audit_ext/m20260101_000003_create_audit"
            ]
            .map(|n| n.replace("audit_ext", "migrate::audit_ext")),
            "{name}"
        );
        let db = app.state().get::<Databases>().unwrap().default_db().clone();
        assert!(
            table_exists(&db, "phial_mt_post").await && table_exists(&db, "phial_mt_audit").await,
            "{name}"
        );
        app.shutdown().await;
        // A second start finds nothing to do.
        let again = build(config(&url), dir.path(), migrate()).await.unwrap();
        let db = again
            .state()
            .get::<Databases>()
            .unwrap()
            .default_db()
            .clone();
        assert!(
            again
                .state()
                .get::<Migrations>()
                .unwrap()
                .pending(&db)
                .await
                .unwrap()
                .is_empty(),
            "{name}"
        );
        again.shutdown().await;
    }
}

#[tokio::test]
async fn the_db_cli_upgrades_downgrades_and_reports() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        clean(&url, root).await;
        let c = config(&url);
        // Launched for `db …`: no upgrade on startup.
        let (code, text) = db_cli(&c, root, &["check"]).await;
        assert_eq!(code, ExitCode::FAILURE, "{name}: {text}");
        assert!(
            text.contains("3 migration(s) pending") && text.contains("db upgrade"),
            "{name}: {text}"
        );

        let (code, text) = db_cli(
            &c,
            root,
            &["upgrade", "--to", "m20260101_000001_create_author"],
        )
        .await;
        assert_eq!(
            (code, text.trim()),
            (ExitCode::SUCCESS, "applied  m20260101_000001_create_author"),
            "{name}"
        );
        let (_, text) = db_cli(&c, root, &["status"]).await;
        assert_eq!(
            text.lines().filter(|l| l.starts_with("pending")).count(),
            2,
            "{name}: {text}"
        );

        let (code, text) = db_cli(&c, root, &["upgrade"]).await;
        assert_eq!(code, ExitCode::SUCCESS, "{name}: {text}");
        assert_eq!(text.lines().count(), 2, "{name}: {text}");
        assert_eq!(
            db_cli(&c, root, &["check"]).await,
            (ExitCode::SUCCESS, "up to date\n".to_owned()),
            "{name}"
        );
        let history = db_cli(&c, root, &["history"]).await.1;
        assert_eq!(history.lines().count(), 3, "{name}: {history}");
        let year = chrono::Utc::now().format("%Y-").to_string();
        assert!(
            history
                .lines()
                .all(|l| l.starts_with(&year) && l.contains(" UTC  ")),
            "{name}: dates, not epoch seconds: {history}"
        );

        let (code, text) = db_cli(&c, root, &["downgrade", "-n", "2"]).await;
        assert_eq!(code, ExitCode::SUCCESS, "{name}: {text}");
        assert!(
            text.contains("rolled back  migrate::audit_ext/m20260101_000003_create_audit"),
            "{name}: {text}"
        );
        let (probe, db) = inspect(&url, root).await;
        assert!(
            !table_exists(&db, "phial_mt_post").await && table_exists(&db, "phial_mt_author").await,
            "{name}"
        );

        let (code, text) = db_cli(&c, root, &["upgrade", "--to", "m_nope"]).await;
        assert_eq!(code, ExitCode::FAILURE);
        assert!(
            text.contains("no migration named `m_nope`"),
            "{name}: {text}"
        );
        assert_eq!(
            db_cli(&c, root, &["reset"]).await.0,
            ExitCode::SUCCESS,
            "{name}"
        );
        assert!(!table_exists(&db, "phial_mt_author").await, "{name}");
        let (code, text) = db_cli(&c, root, &["fresh"]).await;
        assert_eq!(code, ExitCode::SUCCESS, "{name}: {text}");
        assert!(table_exists(&db, "phial_mt_post").await, "{name}");
        probe.shutdown().await;
    }
}

#[tokio::test]
async fn fresh_and_reset_are_refused_in_production_without_force() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let prod = Config::for_profile(Profile::Production).set("secret_key", "s".repeat(40));
    let app = build(prod.clone(), root, migrate()).await.unwrap();
    let db = app.state().get::<Databases>().unwrap().default_db().clone();
    assert!(
        !table_exists(&db, "phial_mt_author").await,
        "production does not upgrade on startup"
    );
    assert_eq!(db_cli(&prod, root, &["upgrade"]).await.0, ExitCode::SUCCESS);
    let (code, text) = db_cli(&prod, root, &["fresh"]).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(text.contains("--force"), "{text}");
    assert!(
        table_exists(&db, "phial_mt_author").await,
        "nothing was dropped"
    );
    assert_eq!(
        db_cli(&prod, root, &["reset", "--force"]).await.0,
        ExitCode::SUCCESS
    );
    assert!(!table_exists(&db, "phial_mt_author").await);
    app.shutdown().await;
}

#[tokio::test]
async fn three_nodes_starting_at_once_apply_each_migration_once() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        clean(&url, dir.path()).await;
        let (a, b, c) = tokio::join!(
            build(config(&url), dir.path(), migrate()),
            build(config(&url), dir.path(), migrate()),
            build(config(&url), dir.path(), migrate()),
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        let db = a.state().get::<Databases>().unwrap().default_db().clone();
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) FROM seaql_migrations",
            ))
            .await
            .unwrap()
            .unwrap();
        let n = row.try_get_by_index::<i64>(0).unwrap();
        assert_eq!(n, 3, "{name}: each migration recorded once");
        for app in [a, b, c] {
            app.shutdown().await;
        }
    }
}

#[tokio::test]
async fn a_failing_migration_names_itself_and_postgres_rolls_it_back() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        clean(&url, dir.path()).await;
        let err = build(
            config(&url),
            dir.path(),
            migrate().migration(M20260101000004Broken),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("migration `m20260101_000004_broken` failed"),
            "{name}: {err}"
        );
        let check = App::builder(config(&url))
            .root_path(dir.path())
            .register(Orm::new())
            .build()
            .await
            .unwrap();
        let db = check
            .state()
            .get::<Databases>()
            .unwrap()
            .default_db()
            .clone();
        assert!(
            table_exists(&db, "phial_mt_audit").await,
            "{name}: earlier migrations stay applied"
        );
        if name == "PostgreSQL" {
            assert!(err.contains("rolled back"), "{err}");
            assert!(
                !table_exists(&db, "phial_mt_broken").await,
                "the failed migration left nothing behind"
            );
        }
        check.shutdown().await;
    }
}

#[tokio::test]
async fn migrate_needs_the_orm() {
    let dir = tempfile::tempdir().unwrap();
    let err = App::builder(Config::testing())
        .root_path(dir.path())
        .register(migrate())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("`migrate` requires extension `Orm`"), "{err}");
}
