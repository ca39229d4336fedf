//! Writes through Phial publish to the change feed; transactions commit or
//! roll back as a whole and publish only what committed. On SQLite,
//! PostgreSQL and MariaDB.

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "phial_test_writes_note")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use phial_core::changes::{Change, Operation};
use phial_core::{App, Config};
use phial_orm::{Db, Orm, OrmError};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder, Schema};
use tokio::sync::broadcast::error::TryRecvError;

async fn backends() -> Vec<(&'static str, Option<String>)> {
    phial_core::testing::sql_databases().await
}

/// The tests share one table per server: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn fresh(url: &Option<String>, root: &std::path::Path) -> (App, Db) {
    let mut config = Config::testing();
    if let Some(url) = url {
        config = config.set("database.url", url);
    }
    let app = App::builder(config)
        .root_path(root)
        .register(Orm::new())
        .build()
        .await
        .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    let backend = db.conn().get_database_backend();
    db.conn()
        .execute_unprepared("DROP TABLE IF EXISTS phial_test_writes_note")
        .await
        .unwrap();
    db.conn()
        .execute(&Schema::new(backend).create_table_from_entity(note::Entity))
        .await
        .unwrap();
    (app, db)
}

fn new_note(title: &str) -> note::ActiveModel {
    note::ActiveModel {
        title: Set(title.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn writes_publish_their_changes() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = fresh(&url, dir.path()).await;
        let mut rx = app.state().changes().subscribe();

        let saved = db.insert(new_note("first")).await.unwrap();
        let change = rx.recv().await.unwrap();
        assert_eq!(
            *change,
            Change::insert("phial_test_writes_note", [serde_json::json!(saved.id)]),
            "{name}"
        );

        let mut edit: note::ActiveModel = saved.clone().into();
        edit.title = Set("renamed".into());
        db.update(edit).await.unwrap();
        assert_eq!(rx.recv().await.unwrap().op, Operation::Update, "{name}");

        let gone: note::ActiveModel = saved.into();
        assert_eq!(db.delete(gone).await.unwrap(), 1, "{name}");
        assert_eq!(rx.recv().await.unwrap().op, Operation::Delete, "{name}");
        assert_eq!(
            note::Entity::find().count(db.conn()).await.unwrap(),
            0,
            "{name}"
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn transactions_commit_together_and_publish_after_the_commit() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = fresh(&url, dir.path()).await;
        let mut rx = app.state().changes().subscribe();
        let ids = db
            .transaction(async |tx| {
                let a = tx.insert(new_note("a")).await?;
                let b = tx.insert(new_note("b")).await?;
                Ok::<_, OrmError>((a.id, b.id))
            })
            .await
            .unwrap();
        assert_eq!(
            note::Entity::find().count(db.conn()).await.unwrap(),
            2,
            "{name}"
        );
        let first = rx.recv().await.unwrap();
        let second = rx.recv().await.unwrap();
        assert_eq!(
            (first.keys[0].clone(), second.keys[0].clone()),
            (serde_json::json!(ids.0), serde_json::json!(ids.1)),
            "{name}"
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn a_failing_transaction_rolls_back_and_publishes_nothing() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = fresh(&url, dir.path()).await;
        let mut rx = app.state().changes().subscribe();
        let result = db
            .transaction(async |tx| {
                tx.insert(new_note("kept?")).await?;
                // A duplicate primary key fails inside the transaction.
                let dup = note::ActiveModel {
                    id: Set(1),
                    title: Set("dup".into()),
                };
                tx.insert(dup.clone()).await?;
                tx.insert(dup).await?;
                Ok::<_, OrmError>(())
            })
            .await;
        assert!(result.is_err(), "{name}");
        assert_eq!(
            note::Entity::find().count(db.conn()).await.unwrap(),
            0,
            "{name}: rolled back"
        );
        assert!(
            matches!(rx.try_recv(), Err(TryRecvError::Empty)),
            "{name}: nothing published"
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn bulk_inserts_cross_the_parameter_limit_in_one_transaction() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = fresh(&url, dir.path()).await;
        // The most rows of two columns any database takes in one statement
        // (65,535 parameters): past twice that, every backend has cut the
        // insert into three chunks or more.
        let per_chunk: usize = 32_767;
        // Explicit ids: two columns a row, one row past two full chunks.
        let rows = 2 * per_chunk + 1;
        let models = (1..=rows as i32).map(|i| note::ActiveModel {
            id: Set(i),
            title: Set(format!("n{i}")),
        });
        let mut rx = app.state().changes().subscribe();
        assert_eq!(db.insert_bulk(models).await.unwrap(), rows as u64, "{name}");
        assert_eq!(
            note::Entity::find().count(db.conn()).await.unwrap(),
            rows as u64,
            "{name}"
        );
        let change = rx.recv().await.unwrap();
        assert_eq!(
            (change.op, change.keys.len()),
            (Operation::Insert, rows),
            "{name}"
        );

        // A duplicate key in the last chunk undoes the earlier chunks too.
        let start = rows as i32 + 1;
        let mut again: Vec<_> = (start..start + per_chunk as i32 + 5)
            .map(|i| note::ActiveModel {
                id: Set(i),
                title: Set(format!("m{i}")),
            })
            .collect();
        again.push(note::ActiveModel {
            id: Set(1),
            title: Set("duplicate".into()),
        });
        assert!(db.insert_bulk(again).await.is_err(), "{name}");
        assert_eq!(
            note::Entity::find().count(db.conn()).await.unwrap(),
            rows as u64,
            "{name}: nothing of the failed batch stays"
        );
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)), "{name}");
        assert_eq!(
            db.insert_bulk(Vec::<note::ActiveModel>::new())
                .await
                .unwrap(),
            0
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn numbered_and_keyset_pages() {
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = fresh(&url, dir.path()).await;
        let models = (1..=45).map(|i| note::ActiveModel {
            id: Set(i),
            title: Set(format!("n{i}")),
        });
        db.insert_bulk(models).await.unwrap();

        let q = |page, per_page| phial_orm::PageQuery {
            page,
            per_page: Some(per_page),
        };
        let select = || <note::Entity as EntityTrait>::find().order_by_asc(note::Column::Id);
        let p1 = phial_orm::paginate(db.conn(), select(), q(1, 20))
            .await
            .unwrap();
        assert_eq!(
            (
                p1.items.len(),
                p1.total_items,
                p1.total_pages,
                p1.has_next(),
                p1.has_prev()
            ),
            (20, 45, 3, true, false),
            "{name}"
        );
        let p3 = phial_orm::paginate(db.conn(), select(), q(3, 20))
            .await
            .unwrap();
        assert_eq!(
            (p3.items.len(), p3.items[0].id, p3.has_next()),
            (5, 41, false),
            "{name}"
        );
        let past = phial_orm::paginate(db.conn(), select(), q(9, 20))
            .await
            .unwrap_err();
        assert!(
            matches!(
                past,
                OrmError::PagePastEnd {
                    page: 9,
                    last_page: 3
                }
            ),
            "{name}: {past}"
        );
        let http = phial_core::HttpError::from(past);
        assert_eq!(http.status(), 400, "{name}");
        assert!(
            http.reason().contains("pages go from 1 to 3"),
            "{name}: {http}"
        );
        let capped = phial_orm::paginate(db.conn(), select(), q(1, 10_000))
            .await
            .unwrap();
        assert_eq!(capped.per_page, phial_orm::MAX_PER_PAGE, "{name}");

        let mut after: Option<i32> = None;
        let mut seen = Vec::new();
        loop {
            let page =
                phial_orm::keyset(db.conn(), note::Entity::find(), note::Column::Id, after, 20)
                    .await
                    .unwrap();
            seen.extend(page.items.iter().map(|m| m.id));
            match page.next {
                Some(next) => after = Some(next.as_i64().unwrap() as i32),
                None => break,
            }
        }
        assert_eq!(seen, (1..=45).collect::<Vec<_>>(), "{name}");
        app.shutdown().await;
    }
}

#[tokio::test]
async fn bad_page_parameters_are_400s() {
    use axum::extract::Query;
    use phial_core::routing::get;
    async fn list(
        db: Db,
        Query(q): Query<phial_orm::PageQuery>,
    ) -> Result<String, phial_core::HttpError> {
        let page = phial_orm::paginate(db.conn(), note::Entity::find(), q.checked()?).await?;
        Ok(page.total_items.to_string())
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = fresh(&None, dir.path()).await;
    let app = App::builder(Config::testing())
        .root_path(dir.path())
        .register(Orm::new())
        .route("/notes", get(list))
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    assert_eq!(client.get("/notes?page=1").send().await.text(), "0");
    let zero = client.get("/notes?page=0").send().await;
    assert_eq!(zero.status(), 400);
    assert_eq!(
        zero.json::<serde_json::Value>()["fields"]["page"][0],
        "must be 1 or more"
    );
    let junk = client.get("/notes?page=abc").send().await;
    assert_eq!(junk.status(), 400);
    assert!(
        junk.json::<serde_json::Value>()["reason"]
            .as_str()
            .unwrap()
            .contains("page"),
        "{}",
        junk.text()
    );
}

#[tokio::test]
async fn pages_no_database_can_address_are_refused_not_overflowed() {
    let _serial = SERIAL.lock().await;
    let max = phial_orm::MAX_OFFSET;
    let q = |page, per_page| phial_orm::PageQuery {
        page,
        per_page: Some(per_page),
    };
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = fresh(&url, dir.path()).await;
        db.insert_bulk((1..=3).map(|i| new_note(&format!("n{i}"))))
            .await
            .unwrap();
        let select = || <note::Entity as EntityTrait>::find().order_by_asc(note::Column::Id);
        // The last page the database can address is past the end: a 400
        // that names the last page, after a count, never an overflow.
        let last = phial_orm::paginate(db.conn(), select(), q(max + 1, 1))
            .await
            .unwrap_err();
        assert!(
            matches!(last, OrmError::PagePastEnd { last_page: 3, .. }),
            "{name}: {last}"
        );
        // One further, and `(page - 1) × per_page` past u64: a 400, no panic.
        for (page, per_page) in [(max + 2, 1), (u64::MAX, 20), (u64::MAX, 10_000)] {
            let err = phial_orm::paginate(db.conn(), select(), q(page, per_page))
                .await
                .unwrap_err();
            assert!(
                matches!(err, OrmError::PageOutOfRange { page: p, .. } if p == page),
                "{name}: {err}"
            );
            let http = phial_core::HttpError::from(err);
            assert_eq!(http.status(), 400, "{name}: {http}");
            assert!(http.to_string().contains("too large"), "{name}: {http}");
        }
        app.shutdown().await;
    }
}

#[tokio::test]
async fn huge_page_numbers_are_400s_with_a_reason() {
    use axum::extract::Query;
    use phial_core::routing::get;
    async fn list(
        db: Db,
        Query(q): Query<phial_orm::PageQuery>,
    ) -> Result<String, phial_core::HttpError> {
        let page = phial_orm::paginate(db.conn(), note::Entity::find(), q.checked()?).await?;
        Ok(format!("{} rows on page {}", page.items.len(), page.page))
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = fresh(&None, dir.path()).await;
    let app = App::builder(Config::testing())
        .root_path(dir.path())
        .register(Orm::new())
        .route("/notes", get(list))
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    let reason = |body: &serde_json::Value| body["reason"].as_str().unwrap_or("").to_owned();

    // Past u64: the query string itself does not parse.
    let beyond_u64 = client.get("/notes?page=18446744073709551616").send().await;
    assert_eq!(beyond_u64.status(), 400, "{}", beyond_u64.text());
    let text = reason(&beyond_u64.json());
    assert!(
        text.contains("page") && text.contains("too large"),
        "{text}"
    );

    // `(page - 1) × per_page` past u64, or past what OFFSET takes.
    for url in [
        "/notes?page=18446744073709551615",
        "/notes?page=18446744073709551615&per_page=18446744073709551615",
        "/notes?page=9223372036854775809&per_page=1",
        "/notes?page=461168601842738792&per_page=20",
    ] {
        let res = client.get(url).send().await;
        assert_eq!(res.status(), 400, "{url}: {}", res.text());
        let body: serde_json::Value = res.json();
        assert!(reason(&body).contains("is too large"), "{url}: {body}");
        assert!(
            body["fields"]["page"][0]
                .as_str()
                .unwrap()
                .starts_with("must be at most"),
            "{url}: {body}"
        );
    }

    // The last pages that can be addressed are past the end: a 400 naming
    // the last page; page 1 of an empty table is an empty page.
    for url in [
        "/notes?page=9223372036854775808&per_page=1",
        "/notes?page=461168601842738791&per_page=20",
        "/notes?page=2",
    ] {
        let res = client.get(url).send().await;
        assert_eq!(res.status(), 400, "{url}: {}", res.text());
        let body: serde_json::Value = res.json();
        assert!(
            reason(&body).contains("past the last page"),
            "{url}: {body}"
        );
        assert_eq!(
            body["fields"]["page"][0], "must be at most 1",
            "{url}: {body}"
        );
    }
    let first = client.get("/notes").send().await;
    assert_eq!(first.text(), "0 rows on page 1");
}

#[tokio::test]
async fn a_request_transaction_commits_on_success_and_rolls_back_on_error() {
    use phial_core::routing::post;
    use phial_orm::{RequestTx, Transactional};
    async fn create(
        tx: RequestTx,
        axum::extract::Path(fail): axum::extract::Path<bool>,
    ) -> Result<&'static str, phial_core::HttpError> {
        tx.insert(new_note("one")).await?;
        // A second extraction in the same request joins the same transaction.
        tx.insert(new_note("two")).await?;
        if fail {
            return Err(phial_core::HttpError::bad_request("refused after writing"));
        }
        Ok("created")
    }
    let _serial = SERIAL.lock().await;
    for (name, url) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let (_, db) = fresh(&url, dir.path()).await;
        let mut config = Config::testing().set("csrf.enabled", false);
        if let Some(u) = &url {
            config = config.set("database.url", u);
        }
        let app = App::builder(config)
            .root_path(dir.path())
            .register(Orm::new())
            .route("/notes/{fail}", post(create).layer(Transactional))
            .route("/bare", post(|_tx: RequestTx| async { "unreachable" }))
            .build()
            .await
            .unwrap();
        let mut rx = app.state().changes().subscribe();
        let client = app.test_client();
        let res = client.post("/notes/false").send().await;
        assert_eq!(
            (res.status().as_u16(), res.text()),
            (200, "created".to_owned()),
            "{name}"
        );
        assert_eq!(
            note::Entity::find().count(db.conn()).await.unwrap(),
            2,
            "{name}"
        );
        assert_eq!(
            rx.recv().await.unwrap().op,
            Operation::Insert,
            "{name}: published after the commit"
        );

        let res = client.post("/notes/true").send().await;
        assert_eq!(res.status(), 400, "{name}");
        assert_eq!(
            note::Entity::find().count(db.conn()).await.unwrap(),
            2,
            "{name}: rolled back"
        );

        let res = client.post("/bare").send().await;
        assert_eq!(res.status(), 500);
        assert!(
            res.text().contains("Transactional"),
            "{name}: {}",
            res.text()
        );
        app.shutdown().await;
    }
}
