//! The admin's list page on PostgreSQL, 1,000 and 1,000,000 rows: the
//! first page sorted by an indexed column, then the same page with a
//! search term that many rows match and one that one row matches —
//! rendered in-process (query, counting, template), timed against the bare
//! query for the same rows as the baseline.
//!
//! `cargo run --release -p phial-bench --bin admin -- [ROWS,ROWS] [REPEAT]`
//! (`PHIAL_BENCH_PG`, default `postgres://postgres@127.0.0.1:5432/test`),
//! or `scripts/bench-admin.sh`.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::time::{Duration, Instant};

use phial::admin::{Admin, ModelView, create_user};
use phial::migrate::Migrate;
use phial::orm::{Db, Orm};
use phial::{App, Config};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Schema};

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_admin_post")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(200))")]
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub published: bool,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn app(url: &str) -> (App, Db) {
    let config = Config::testing()
        .set("database.url", url)
        .set("migrate.auto_upgrade", false)
        .set("trace", false);
    let app = App::builder(config)
        .register(Orm::new())
        .register(Migrate::new())
        .register(
            Admin::new().model(
                ModelView::<post::Entity>::new()
                    .list(["id", "title", "published", "created_at"])
                    .search(["title"])
                    .filters(["published", "created_at"])
                    .order_by("created_at", true),
            ),
        )
        .build()
        .await
        .expect("the app builds");
    let db = Db::from_state(app.state()).expect("a database");
    (app, db)
}

async fn seed(db: &Db, rows: u64) {
    let c = db.conn();
    let backend = c.get_database_backend();
    let schema = Schema::new(backend);
    for table in [
        "bench_admin_post",
        "phial_admin_log",
        "phial_admin_user_role",
        "phial_admin_role",
        "phial_admin_user",
    ] {
        c.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .expect("drop");
    }
    for stmt in [
        schema.create_table_from_entity(phial::admin::user::Entity),
        schema.create_table_from_entity(phial::admin::role::Entity),
        schema.create_table_from_entity(phial::admin::user_role::Entity),
        schema.create_table_from_entity(phial::admin::log::Entity),
        schema.create_table_from_entity(post::Entity),
    ] {
        c.execute(&stmt).await.expect("create");
    }
    c.execute_unprepared(&format!(
        "INSERT INTO bench_admin_post (title, body, published, created_at) \
         SELECT 'post ' || g || CASE WHEN g = {rows} / 2 THEN ' needle' ELSE '' END, \
                'body of post ' || g, g % 3 = 0, \
                TIMESTAMPTZ '2020-01-01' + g * INTERVAL '1 minute' \
         FROM generate_series(1, {rows}) AS g"
    ))
    .await
    .expect("seed");
    c.execute_unprepared("CREATE INDEX bench_admin_post_created ON bench_admin_post (created_at)")
        .await
        .expect("index");
    c.execute_unprepared("ANALYZE bench_admin_post")
        .await
        .expect("analyze");
}

async fn time_page(http: &phial::testing::TestClient, url: &str, repeat: usize) -> Duration {
    let first = http.get(url).send().await;
    assert_eq!(first.status(), 200, "{url}: {}", first.text());
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let t = Instant::now();
        let res = http.get(url).send().await;
        times.push(t.elapsed());
        assert_eq!(res.status(), 200);
    }
    median(times)
}

fn report(rows: u64, label: &str, page: Duration, bare: Duration) {
    println!(
        "{rows:<10} {label:<33} {:>9.2}   {:>13.2}   {:>6.1}",
        ms(page),
        ms(bare),
        ms(page) / ms(bare)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<u64> = args
        .first()
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 1_000_000]);
    let repeat: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(50);
    let url = std::env::var("PHIAL_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    println!(
        "# cargo run --release -p phial-bench --bin admin -- {} {repeat}",
        sizes
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    println!("rows       page                              median ms   bare query ms    ratio");
    for rows in sizes {
        let (app, db) = app(&url).await;
        seed(&db, rows).await;
        create_user(&db, "bench", "correct horse battery", true)
            .await
            .expect("a user");
        let http = app.test_client();
        let form = http.get("/admin/login").send().await;
        let token = form.csrf_token().expect("a CSRF field");
        let res = http
            .post("/admin/login")
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", "bench"),
                ("password", "correct horse battery"),
            ])
            .send()
            .await;
        assert_eq!(res.status(), 303, "signed in");
        // The baseline: the page's rows by the bare query.
        let mut bare = Vec::new();
        for _ in 0..repeat {
            let t = Instant::now();
            let r = post::Entity::find()
                .order_by_desc(post::Column::CreatedAt)
                .order_by_desc(post::Column::Id)
                .limit(26)
                .all(db.conn())
                .await
                .expect("query");
            bare.push(t.elapsed());
            assert_eq!(r.len() as u64, rows.min(26));
        }
        let bare = median(bare);
        let pages = [
            ("first page, sorted", ""),
            ("search, many match", "?q=7"),
            ("search, one matches", "?q=needle"),
        ];
        for (label, query) in pages {
            let page = time_page(&http, &format!("/admin/bench_admin_post/{query}"), repeat).await;
            report(rows, label, page, bare);
        }
        // What a large table's search wants: a trigram index on the
        // searched expression (`lower(title)`, as the admin compares).
        db.conn()
            .execute_unprepared(
                "CREATE EXTENSION IF NOT EXISTS pg_trgm; \
                 CREATE INDEX bench_admin_post_title_trgm ON bench_admin_post \
                 USING gin (lower(title) gin_trgm_ops); ANALYZE bench_admin_post",
            )
            .await
            .expect("a trigram index (pg_trgm)");
        for (label, query) in &pages[1..] {
            let page = time_page(&http, &format!("/admin/bench_admin_post/{query}"), repeat).await;
            report(rows, &format!("{label} (trgm)"), page, bare);
        }
        app.shutdown().await;
    }
}
