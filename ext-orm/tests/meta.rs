//! Model metadata read from entities, and JSON written through it: every
//! kind of column round-trips on SQLite, PostgreSQL and MariaDB, and bad
//! input is reported field by field without touching the model.

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod author {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "phial_test_meta_author")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(40))")]
        pub name: String,
        #[sea_orm(unique, column_type = "String(StringLen::N(100))")]
        pub email: String,
        pub password_hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::article::Entity")]
        Article,
    }

    impl Related<super::article::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Article.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod article {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "phial_test_meta_article")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub author_id: i32,
        #[sea_orm(column_type = "String(StringLen::N(20))")]
        pub title: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub body: Option<String>,
        pub rank: i16,
        pub score: f64,
        #[sea_orm(default_value = false)]
        pub published: bool,
        pub day: Date,
        pub at: DateTimeUtc,
        pub extra: Option<Json>,
        pub tag: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::author::Entity",
            from = "Column::AuthorId",
            to = "super::author::Column::Id"
        )]
        Author,
    }

    impl Related<super::author::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Author.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod ticket {
    use sea_orm::entity::prelude::*;

    #[derive(Debug, Clone, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "Enum", enum_name = "ticket_state")]
    pub enum State {
        #[sea_orm(string_value = "open")]
        Open,
        #[sea_orm(string_value = "closed")]
        Closed,
    }

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "phial_test_meta_ticket")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub state: State,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use phial_core::{App, Config};
use phial_orm::meta::json::{self, WriteMode};
use phial_orm::meta::{FieldKind, ModelMeta, RelationKind};
use phial_orm::{Db, Orm};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Schema};
use serde_json::json;

#[test]
fn metadata_comes_from_the_entity_definitions() {
    let meta = ModelMeta::of::<article::Entity>().read_only("at");
    assert_eq!(meta.table, "phial_test_meta_article");
    assert_eq!(meta.primary_key, ["id"]);
    let kinds: Vec<(&str, FieldKind, bool)> = meta
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.kind, f.nullable))
        .collect();
    assert_eq!(
        kinds,
        [
            ("id", FieldKind::Integer, false),
            ("author_id", FieldKind::Integer, false),
            ("title", FieldKind::String, false),
            ("body", FieldKind::Text, true),
            ("rank", FieldKind::Integer, false),
            ("score", FieldKind::Number, false),
            ("published", FieldKind::Boolean, false),
            ("day", FieldKind::Date, false),
            ("at", FieldKind::DateTimeTz, false),
            ("extra", FieldKind::Json, true),
            ("tag", FieldKind::Uuid, false),
        ]
    );
    let id = meta.field("id").unwrap();
    assert!(id.primary_key && id.auto_increment && id.read_only && !id.required());
    assert_eq!(meta.field("title").unwrap().max_length, Some(20));
    assert_eq!(
        meta.field("rank").unwrap().int_range,
        Some((i16::MIN.into(), i16::MAX.into()))
    );
    let published = meta.field("published").unwrap();
    assert!(published.has_default && !published.required());
    assert!(meta.field("title").unwrap().required());
    assert!(meta.field("at").unwrap().read_only);

    let fk = meta.foreign_key("author_id").unwrap();
    assert_eq!(fk.kind, RelationKind::BelongsTo);
    assert_eq!(fk.table, "phial_test_meta_author");
    assert_eq!(fk.to, ["id"]);

    let author = ModelMeta::of::<author::Entity>().hidden("password_hash");
    assert!(author.field("email").unwrap().unique);
    assert_eq!(author.relations[0].kind, RelationKind::HasMany);
    assert_eq!(author.relations[0].table, "phial_test_meta_article");
    assert_eq!(
        author
            .visible()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "name", "email"]
    );

    let ticket = ModelMeta::of::<ticket::Entity>();
    let state = ticket.field("state").unwrap();
    assert_eq!(state.kind, FieldKind::Enum);
    assert_eq!(
        state.enum_values.as_deref(),
        Some(&["open".to_owned(), "closed".to_owned()][..])
    );
}

#[test]
#[should_panic(expected = "has no column `pasword_hash`")]
fn a_misspelt_hidden_field_fails_loudly() {
    let _ = ModelMeta::of::<author::Entity>().hidden("pasword_hash");
}

#[test]
fn every_bad_field_is_reported_and_read_only_ones_are_never_written() {
    let meta = ModelMeta::of::<article::Entity>().read_only("at");
    let mut model = <article::ActiveModel as Default>::default();
    let body = json!({
        "id": 99,                    // read-only: skipped
        "at": "2026-01-01T00:00:00Z", // read-only: skipped
        "title": "a title that is far too long",
        "rank": 40000,
        "score": "high",
        "day": "yesterday",
        "body": null,
        "published": null,
        "owner": "me",
    });
    let errors =
        json::apply::<article::Entity>(&meta, &mut model, &body, WriteMode::Create).unwrap_err();
    let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        got,
        [
            ("author_id", "required"),
            ("day", "format"),
            ("owner", "unknown"),
            ("published", "null"),
            ("rank", "out_of_range"),
            ("score", "type"),
            ("tag", "required"),
            ("title", "too_long"),
        ]
    );
    assert!(model.id.is_not_set() && model.at.is_not_set());

    // A patch checks only what it sends.
    let mut patch = <article::ActiveModel as Default>::default();
    json::apply::<article::Entity>(&meta, &mut patch, &json!({"score": 2.5}), WriteMode::Patch)
        .unwrap();
    assert!(patch.score.is_set() && patch.title.is_not_set());

    let not_object =
        json::apply::<article::Entity>(&meta, &mut patch, &json!([1]), WriteMode::Patch)
            .unwrap_err();
    assert_eq!(not_object[0].code, "type");

    let ticket = ModelMeta::of::<ticket::Entity>();
    let mut t = <ticket::ActiveModel as Default>::default();
    let errors = json::apply::<ticket::Entity>(
        &ticket,
        &mut t,
        &json!({"state": "lost"}),
        WriteMode::Create,
    )
    .unwrap_err();
    assert_eq!(errors[0].code, "not_allowed");
    assert!(
        errors[0].message.contains("open, closed"),
        "{}",
        errors[0].message
    );
    json::apply::<ticket::Entity>(
        &ticket,
        &mut t,
        &json!({"state": "closed"}),
        WriteMode::Create,
    )
    .unwrap();
    assert_eq!(t.state.clone().unwrap(), ticket::State::Closed);
}

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
    let conn = db.conn();
    let schema = Schema::new(conn.get_database_backend());
    for table in ["phial_test_meta_article", "phial_test_meta_author"] {
        conn.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .unwrap();
    }
    conn.execute(&schema.create_table_from_entity(author::Entity))
        .await
        .unwrap();
    conn.execute(&schema.create_table_from_entity(article::Entity))
        .await
        .unwrap();
    (app, db)
}

/// The tests share tables per server: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn json_round_trips_through_every_database() {
    let _serial = SERIAL.lock().await;
    for (name, url) in phial_core::testing::sql_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = fresh(&url, dir.path()).await;
        let authors = ModelMeta::of::<author::Entity>().hidden("password_hash");
        let mut a = <author::ActiveModel as Default>::default();
        json::apply::<author::Entity>(
            &authors,
            &mut a,
            &json!({"name": "Ada", "email": "ada@example.com"}),
            WriteMode::Create,
        )
        .unwrap();
        // Hidden fields are set by the app, never by a client.
        a.password_hash = sea_orm::ActiveValue::Set("hash".into());
        let ada = db.insert(a).await.unwrap();
        let sent = json::to_json::<author::Entity>(&authors, &ada);
        assert_eq!(
            serde_json::Value::Object(sent),
            json!({"id": ada.id, "name": "Ada", "email": "ada@example.com"}),
            "{name}"
        );

        let meta = ModelMeta::of::<article::Entity>();
        let body = json!({
            "author_id": ada.id,
            "title": "Hello",
            "body": "text",
            "rank": -3,
            "score": 1.5,
            "published": true,
            "day": "2026-12-02",
            "at": "2026-12-02T10:11:12Z",
            "extra": {"k": [1, 2]},
            "tag": "67e55044-10b1-426f-9247-bb680e5fe0c8",
        });
        let mut new = <article::ActiveModel as Default>::default();
        json::apply::<article::Entity>(&meta, &mut new, &body, WriteMode::Create).unwrap();
        let saved = db.insert(new).await.unwrap();
        let mut expected = body.clone();
        expected["id"] = json!(saved.id);
        let fetched = article::Entity::find_by_id(saved.id)
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::Value::Object(json::to_json::<article::Entity>(&meta, &fetched)),
            expected,
            "{name}"
        );
        assert_eq!(
            json::key_of::<article::Entity>(&meta, &fetched),
            json!(saved.id)
        );

        // A replace nulls the nullable fields it leaves out.
        let mut replace: article::ActiveModel = fetched.into();
        let mut whole = body.clone();
        whole.as_object_mut().unwrap().remove("body");
        whole.as_object_mut().unwrap().remove("extra");
        json::apply::<article::Entity>(&meta, &mut replace, &whole, WriteMode::Replace).unwrap();
        let replaced = replace.update(db.conn()).await.unwrap();
        assert_eq!(replaced.body, None, "{name}");
        assert_eq!(replaced.extra, None, "{name}");
        app.shutdown().await;
    }
}
