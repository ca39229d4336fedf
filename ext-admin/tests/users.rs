//! Admin users on SQLite, PostgreSQL and MariaDB: names checked, passwords
//! hashed, two creations of one name racing leave one user and a clear
//! refusal.

use phial_core::{App, Config};
use phial_orm::{Db, Orm};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Schema};

/// The database with fresh staff tables (made from the entities: the
/// servers' shared databases carry other tests' migration histories; the
/// migrations themselves are exercised by the blog's CLI test). Creating
/// a user writes its roles and its log entry too.
async fn app(url: &Option<String>, dir: &std::path::Path) -> (App, Db) {
    let mut config = Config::testing().set("instance_path", dir.display().to_string());
    if let Some(url) = url {
        config = config.set("database.url", url);
    }
    let app = App::builder(config)
        .register(Orm::new())
        .build()
        .await
        .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    let backend = db.conn().get_database_backend();
    for table in [
        "phial_admin_user_role",
        "phial_admin_log",
        "phial_admin_role",
        "phial_admin_user",
    ] {
        db.conn()
            .execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .unwrap();
    }
    let schema = Schema::new(backend);
    for create in [
        schema.create_table_from_entity(phial_admin::user::Entity),
        schema.create_table_from_entity(phial_admin::role::Entity),
        schema.create_table_from_entity(phial_admin::user_role::Entity),
        schema.create_table_from_entity(phial_admin::log::Entity),
    ] {
        db.conn().execute(&create).await.unwrap();
    }
    (app, db)
}

/// One database server's tables are shared by the tests: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn racing_creations_of_one_name_leave_one_user() {
    let _one_at_a_time = SERIAL.lock().await;
    for (name, url) in phial_core::testing::sql_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = app(&url, dir.path()).await;
        let (a, b) = tokio::join!(
            phial_admin::create_user(&db, "ada", "correct horse", false),
            phial_admin::create_user(&db, "ada", "battery staple", true),
        );
        let outcomes = [a.is_ok(), b.is_ok()];
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "{name}: {outcomes:?}"
        );
        let refused = a.err().or(b.err()).unwrap();
        assert!(
            matches!(refused, phial_admin::AdminError::UsernameTaken(_)),
            "{name}: {refused}"
        );
        assert_eq!(
            phial_admin::user::Entity::find()
                .count(db.conn())
                .await
                .unwrap(),
            1,
            "{name}"
        );
        for bad in ["", "has space", &"x".repeat(151)] {
            let err = phial_admin::create_user(&db, bad, "long enough", false)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("not allowed"), "{name}: {err}");
        }
        app.shutdown().await;
    }
}
