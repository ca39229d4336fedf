//! The change feed in a namespace: `watch` obeys each model's policy
//! (declared on `Orm`), writes reach watchers as `changed` events, callers
//! whose rows are narrowed get no keys, `unwatch` stops them.

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod secret {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "secret")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "post")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub published: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use phial_core::changes::Change;
use phial_core::routing::get;
use phial_core::{App, Config, Session};
use phial_orm::policy::{Policy, Rule};
use phial_orm::{Db, Orm};
use phial_socket::testing::SocketClient;
use phial_socket::{Socket, SocketRef};
use sea_orm::{ColumnTrait, Condition};
use serde_json::{Value, json};

async fn login(session: Session) -> &'static str {
    session.insert("user_id", 7).unwrap();
    "signed in"
}

async fn app() -> App {
    let published_only = Policy::new().rows(|c| {
        (!c.is_authenticated()).then(|| Condition::all().add(post::Column::Published.eq(true)))
    });
    App::builder(Config::testing().set("database.url", "sqlite::memory:"))
        .register(
            Orm::new()
                .policy::<secret::Entity>(Policy::new().list(Rule::authenticated()))
                .policy::<post::Entity>(published_only),
        )
        .route("/login", get(login))
        .register(
            Socket::new()
                .ns("/live", async |_s: SocketRef| {})
                .feed("/live", ["secret", "post"]),
        )
        .build()
        .await
        .unwrap()
}

async fn write(app: &App, table: &str, key: i64) {
    let db = Db::from_state(app.state()).unwrap();
    db.publish(Change::insert(table, vec![json!(key)])).await;
}

#[tokio::test]
async fn watching_a_table_obeys_its_policy() {
    let app = app().await;
    let anon = SocketClient::connect(&app.test_client(), "/live")
        .await
        .unwrap();
    let refused: Value = anon.emit_with_ack("watch", "secret").await.unwrap();
    assert!(
        refused["error"].as_str().unwrap().contains("sign in"),
        "{refused}"
    );
    let unknown: Value = anon.emit_with_ack("watch", "author").await.unwrap();
    assert!(
        unknown["error"].as_str().unwrap().contains("not watchable"),
        "{unknown}"
    );

    let http = app.test_client();
    http.get("/login").send().await;
    let ada = SocketClient::connect(&http, "/live").await.unwrap();
    let ok: Value = ada.emit_with_ack("watch", "secret").await.unwrap();
    assert_eq!(ok, json!({"ok": true, "keys": true}));

    write(&app, "secret", 41).await;
    let changed = ada.recv_event("changed").await.unwrap();
    assert_eq!(
        changed.arg::<Value>(0),
        json!({"table": "secret", "op": "insert", "keys": [41], "ids": ["41"]})
    );
    // The anonymous client was refused: it heard nothing of it. Checked
    // after an event it may hear, on a table it may watch.
    let _: Value = anon.emit_with_ack("watch", "post").await.unwrap();
    write(&app, "post", 1).await;
    assert_eq!(
        anon.recv_event("changed").await.unwrap().arg::<Value>(0)["table"],
        "post"
    );
    assert_eq!(anon.try_recv().await, None);
    app.shutdown().await;
}

#[tokio::test]
async fn narrowed_callers_get_no_keys_and_unwatch_stops_events() {
    let app = app().await;
    let anon = SocketClient::connect(&app.test_client(), "/live")
        .await
        .unwrap();
    let ok: Value = anon.emit_with_ack("watch", "post").await.unwrap();
    assert_eq!(ok, json!({"ok": true, "keys": false}));
    let http = app.test_client();
    http.get("/login").send().await;
    let ada = SocketClient::connect(&http, "/live").await.unwrap();
    let _: Value = ada.emit_with_ack("watch", "post").await.unwrap();

    write(&app, "post", 5).await;
    let seen = anon.recv_event("changed").await.unwrap().arg::<Value>(0);
    assert_eq!(
        seen,
        json!({"table": "post", "op": "insert", "keys": [], "ids": []})
    );
    let seen = ada.recv_event("changed").await.unwrap().arg::<Value>(0);
    assert_eq!(seen["keys"], json!([5]));
    assert_eq!(seen["ids"], json!(["5"]), "the key as REST's URLs take it");

    let _: Value = ada.emit_with_ack("unwatch", "post").await.unwrap();
    write(&app, "post", 6).await;
    // The anonymous watcher still hears; the one that left does not.
    anon.recv_event("changed").await.unwrap();
    let _: Value = ada.emit_with_ack("watch", "secret").await.unwrap();
    write(&app, "secret", 1).await;
    let next = ada.recv_event("changed").await.unwrap().arg::<Value>(0);
    assert_eq!(
        next["table"], "secret",
        "a `post` change reached a client that unwatched"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_feed_without_its_namespace_fails_the_start() {
    let err = App::builder(Config::testing().set("database.url", "sqlite::memory:"))
        .register(Orm::new())
        .register(Socket::new().feed("/live", ["post"]))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("/live") && err.contains(".ns("), "{err}");
}
