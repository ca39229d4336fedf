//! A blog-like app for the REST tests: authors (with a hidden password
//! hash) and posts (belonging to an author), on SQLite, PostgreSQL and
//! MariaDB.

#![allow(dead_code, reason = "each test file uses part of the fixture")]

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
pub mod author {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rest_test_author")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(40))")]
        pub name: String,
        #[sea_orm(unique, column_type = "String(StringLen::N(100))")]
        pub email: String,
        #[sea_orm(default_value = "")]
        pub password_hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::post::Entity")]
        Post,
    }

    impl Related<super::post::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Post.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
pub mod post {
    use sea_orm::ActiveValue::Set;
    use sea_orm::entity::prelude::async_trait;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rest_test_post")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub author_id: i32,
        #[sea_orm(column_type = "String(StringLen::N(100))")]
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        #[sea_orm(default_value = false)]
        pub published: bool,
        pub created_at: DateTimeUtc,
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

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        async fn before_save<C: ConnectionTrait>(
            mut self,
            _db: &C,
            insert: bool,
        ) -> Result<Self, DbErr> {
            if insert && self.created_at.is_not_set() {
                self.created_at = Set(chrono::Utc::now());
            }
            Ok(self)
        }
    }
}

use phial_core::testing::TestClient;
use phial_core::{App, Config, Session, routing::get};
use phial_orm::policy::{Policy, Rule};
use phial_orm::{Db, Orm};
use phial_rest::utoipa;
use phial_rest::{Guard, Resource, Rest};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, Schema};

pub(crate) const TOKEN: &str = "s3cret-token";

/// The tests share tables per server: one at a time.
pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) struct Api {
    pub(crate) name: &'static str,
    pub(crate) app: App,
    pub(crate) client: TestClient,
    pub(crate) db: Db,
    _dir: tempfile::TempDir,
}

/// Signs the test client in as user `id` (a session, as a login form would).
async fn login(
    session: Session,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> &'static str {
    session.insert("user_id", id).unwrap();
    "signed in"
}

/// How many authors there are: a hand-written endpoint in the same
/// document as the generated ones.
#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "stats",
    responses((status = 200, description = "row counts", body = Stats))
)]
async fn stats(db: Db) -> Result<axum::Json<Stats>, phial_core::HttpError> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let authors = author::Entity::find()
        .count(db.conn())
        .await
        .map_err(phial_orm::OrmError::from)?;
    Ok(axum::Json(Stats { authors }))
}

/// Row counts.
#[derive(serde::Serialize, phial_rest::utoipa::ToSchema)]
pub(crate) struct Stats {
    /// Authors.
    authors: u64,
}

#[derive(phial_rest::utoipa::OpenApi)]
#[openapi(paths(stats), components(schemas(Stats)))]
struct ApiDoc;

pub(crate) fn rest() -> Rest {
    use phial_rest::utoipa::OpenApi as _;
    Rest::new()
        .document(ApiDoc::openapi())
        .guard(Guard::session_user("user_id").or(Guard::bearer_from_config("test.api_token")))
        .resource(
            Resource::<author::Entity>::new()
                .path("authors")
                .hidden("password_hash")
                .filterable(["name", "email"])
                .sortable(["name"])
                .searchable(["name", "email"])
                .policy(Policy::new().writes(Rule::authenticated())),
        )
        .resource(
            Resource::<post::Entity>::new()
                .path("posts")
                .read_only("created_at")
                .filterable(["author_id", "title", "published", "created_at", "id"])
                .sortable(["created_at", "title"])
                .searchable(["title", "body"])
                .max_per_page(50)
                .policy(
                    // Signed-in users create and change posts; deletes are
                    // for tokens (their scope), the default for writes.
                    Policy::new()
                        .create(Rule::authenticated())
                        .change(Rule::authenticated())
                        .rows(|caller| {
                            (!caller.is_authenticated())
                                .then(|| Condition::all().add(post::Column::Published.eq(true)))
                        }),
                ),
        )
}

pub(crate) async fn api(
    name: &'static str,
    url: &Option<String>,
    config: impl FnOnce(Config) -> Config,
) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::testing().set("test.api_token", TOKEN);
    if let Some(url) = url {
        cfg = cfg.set("database.url", url);
    }
    let cfg = config(cfg);
    let app = App::builder(cfg)
        .root_path(dir.path())
        .register(Orm::new())
        .register(rest())
        .route("/login/{id}", get(login))
        .route("/api/stats", get(stats))
        .build()
        .await
        .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    let conn = db.conn();
    let schema = Schema::new(conn.get_database_backend());
    for table in ["rest_test_post", "rest_test_author"] {
        conn.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .unwrap();
    }
    conn.execute(&schema.create_table_from_entity(author::Entity))
        .await
        .unwrap();
    conn.execute(&schema.create_table_from_entity(post::Entity))
        .await
        .unwrap();
    let client = app.test_client();
    Api {
        name,
        app,
        client,
        db,
        _dir: dir,
    }
}

pub(crate) fn bearer() -> String {
    format!("Bearer {TOKEN}")
}
