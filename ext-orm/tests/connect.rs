//! Connecting to SQLite, PostgreSQL and MariaDB for real: pools from
//! config, the Db extractor, readiness, shutdown, binds, and clear errors.

use phial_core::routing::get;
use phial_core::{App, Config, Profile};
use phial_orm::{Databases, Db, Orm, OrmError};
use sea_orm::{ConnectionTrait, Statement};

async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
        .or_else(|_| row.try_get_by_index::<i32>(0).map(|v| v.to_string()))
        .unwrap()
}

async fn one(db: Db) -> Result<String, OrmError> {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            "SELECT 1 + 1",
        ))
        .await?;
    let n: i64 = row
        .and_then(|r| {
            r.try_get_by_index::<i64>(0)
                .ok()
                .or_else(|| r.try_get_by_index::<i32>(0).ok().map(i64::from))
        })
        .unwrap_or(-1);
    Ok(n.to_string())
}

async fn app(config: Config, root: &std::path::Path) -> App {
    App::builder(config)
        .root_path(root)
        .register(Orm::new())
        .route("/one", get(one))
        .build()
        .await
        .expect("the app builds")
}

#[tokio::test]
async fn sqlite_is_the_default_with_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(Config::testing(), dir.path()).await;
    assert!(
        dir.path().join("instance/app.sqlite").is_file(),
        "created on first run"
    );
    let db = app.state().get::<Databases>().unwrap().default_db().clone();
    assert_eq!(scalar(&db, "PRAGMA journal_mode").await, "wal");
    assert_eq!(scalar(&db, "PRAGMA foreign_keys").await, "1");
    assert_eq!(scalar(&db, "PRAGMA busy_timeout").await, "5000");
    let client = app.test_client();
    assert_eq!(client.get("/one").send().await.text(), "2");
    let ready: serde_json::Value = client.get("/readyz").send().await.json();
    assert_eq!(ready["checks"]["database"]["status"], "ok", "{ready}");
    app.shutdown().await;
    assert!(db.ping().await.is_err(), "the pool is closed at shutdown");
}

#[tokio::test]
async fn postgres_and_mariadb_by_url() {
    let dir = tempfile::tempdir().unwrap();
    for (name, url) in phial_core::testing::sql_databases().await {
        let Some(url) = url else { continue };
        let app = app(
            Config::testing()
                .set("database.url", &url)
                .set("database.max_connections", 3),
            dir.path(),
        )
        .await;
        let client = app.test_client();
        assert_eq!(client.get("/one").send().await.text(), "2", "{name}");
        let ready = client.get("/readyz").send().await;
        assert_eq!(ready.status(), 200, "{name}: {}", ready.text());
        app.shutdown().await;
        assert!(
            !dir.path().join("instance/app.sqlite").exists(),
            "{name}: no SQLite file when a URL is set"
        );
    }
}

#[tokio::test]
async fn an_unreachable_database_fails_the_build_naming_it_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::testing()
        .set("database.url", "postgres://app:hunter2@127.0.0.1:1/app")
        .set("database.connect_timeout_secs", 2)
        .set("database.acquire_timeout_secs", 2);
    let err = App::builder(config)
        .root_path(dir.path())
        .register(Orm::new())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("extension `orm`"), "{err}");
    assert!(
        err.contains("database `default` at postgres://app:***@127.0.0.1:1/app cannot be reached"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("PHIAL_DATABASE__URL"), "{err}");
}

#[tokio::test]
async fn binds_are_extra_named_databases() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        Config::testing().set("database.binds.analytics.max_connections", 2),
        dir.path(),
    )
    .await;
    let dbs = app.state().get::<Databases>().unwrap();
    let analytics = dbs.bind("analytics").unwrap();
    assert_eq!(scalar(analytics, "SELECT 40 + 2").await, "42");
    assert!(dir.path().join("instance/analytics.sqlite").is_file());
    let err = dbs.bind("nope").unwrap_err().to_string();
    assert!(err.contains("[database.binds.nope]"), "{err}");
}

#[tokio::test]
async fn bad_settings_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let err = App::builder(Config::testing().set("database.max_connections", "many"))
        .root_path(dir.path())
        .register(Orm::new())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("extension `orm`: config key `database.max_connections`: invalid type"),
        "{err}"
    );
}

#[tokio::test]
async fn sqlite_in_production_is_a_deploy_warning() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        Config::for_profile(Profile::Production).set("secret_key", "p".repeat(40)),
        dir.path(),
    )
    .await;
    let (out, buf) = phial_core::cli::Output::buffer();
    app.clone()
        .run_cli(["app", "check", "--deploy"], out)
        .await
        .unwrap();
    let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARNING orm: database.url: SQLite serves a single node"),
        "{text}"
    );
}

#[tokio::test]
async fn db_without_the_extension_is_a_build_error_naming_the_route_and_what_to_register() {
    let err = App::builder(Config::testing())
        .route("/one", get(one))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("route GET /one")
            && err.contains("phial_orm::db::Db")
            && err.contains(".register(phial::orm::Orm::new())"),
        "{err}"
    );
}
