//! Run with `scripts/bench-rest.sh` (HTTP, through wrk), or alone:
//!
//! - `rest serve [ROWS]`: seeds ROWS posts (default 1,000) in a SQLite
//!   file and serves the same `/api/posts` list and `/api/posts/{id}` three
//!   ways: Phial's generated resource on 127.0.0.1:5201, the same with the
//!   cache registered on :5202, and hand-written axum + sea-orm handlers
//!   doing the same queries and serialisation on :5203.
//! - `rest bulk [ROWS] [ROUNDS]`: creates ROWS posts (default 100,000)
//!   through `POST /api/posts/bulk` (in-process, JSON parsed and checked)
//!   and the way a hand-written endpoint would (the same JSON body into
//!   typed rows by serde, raw multi-row sqlx inserts in one transaction),
//!   alternating, and prints rows/s and the median ratio.
//! - `rest inproc URL [N] [phial|axum]`: one request N times through the
//!   generated or the hand-written router in-process, no sockets: the
//!   server side alone, steady enough to profile.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::{Json, Router};
use phial::cache::Caching;
use phial::orm::policy::Policy;
use phial::orm::{Db, Orm};
use phial::rest::{Resource, Rest};
use phial::{App, Config, Profile};
use sea_orm::sqlx::{self, QueryBuilder};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect,
    Schema,
};
use serde_json::{Value, json};

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "bench_post")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(200))")]
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub published: bool,
        pub views: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::for_profile(Profile::Production);
    // `PHIAL_BENCH_LAYERS=off`: the core's optional layers off, to tell
    // what the resource costs from what the defaults add to every response.
    if std::env::var("PHIAL_BENCH_LAYERS").is_ok_and(|v| v == "off") {
        for key in [
            "request_id.enabled",
            "security.enabled",
            "session.enabled",
            "csrf.enabled",
        ] {
            config = config.set(key, false);
        }
    }
    config
        .set("secret_key", "b".repeat(48))
        .set(
            "database.url",
            format!("sqlite://{}", dir.join("bench.sqlite").display()),
        )
        .set("rest.bulk_limit", 1_000_000)
        .set("body_limit", 512 * 1024 * 1024)
}

async fn app(dir: &std::path::Path, cache: bool) -> App {
    let mut b = App::builder(config(dir));
    b.root_path(dir).register(Orm::new());
    if cache {
        b.register(Caching::new());
    }
    // Open to all: the bench measures the resource, not a login.
    b.register(
        Rest::new().resource(
            Resource::<post::Entity>::new()
                .path("posts")
                .policy(Policy::open()),
        ),
    );
    b.build().await.expect("the bench app builds")
}

fn rows(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "title": format!("post number {i}"),
                "body": "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
                "published": i % 2 == 0,
                "views": i * 3,
            })
        })
        .collect()
}

async fn reset(conn: &DatabaseConnection) {
    conn.execute_unprepared("DROP TABLE IF EXISTS bench_post")
        .await
        .unwrap();
    conn.execute(&Schema::new(conn.get_database_backend()).create_table_from_entity(post::Entity))
        .await
        .unwrap();
}

// The hand-written baseline: what an axum + sea-orm app would write for
// the same two endpoints (same queries: a page and its count; same JSON).

#[derive(serde::Deserialize)]
struct PageParams {
    page: Option<u64>,
    per_page: Option<u64>,
}

async fn hand_list(
    State(db): State<DatabaseConnection>,
    Query(p): Query<PageParams>,
) -> Result<Json<Value>, axum::http::StatusCode> {
    let (page, per_page) = (
        p.page.unwrap_or(1).max(1),
        p.per_page.unwrap_or(20).clamp(1, 100),
    );
    let err = |_| axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    let total = post::Entity::find().count(&db).await.map_err(err)?;
    let items = post::Entity::find()
        .order_by_asc(post::Column::Id)
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
        .all(&db)
        .await
        .map_err(err)?;
    let items = &items[..items.len().min(per_page as usize)];
    Ok(Json(json!({
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": total.div_ceil(per_page).max(1),
    })))
}

async fn hand_get(
    State(db): State<DatabaseConnection>,
    Path(id): Path<i32>,
) -> Result<Json<post::Model>, axum::http::StatusCode> {
    post::Entity::find_by_id(id)
        .one(&db)
        .await
        .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?
        .map(Json)
        .ok_or(axum::http::StatusCode::NOT_FOUND)
}

async fn serve(n: usize) {
    let dir = std::env::temp_dir().join(format!("phial-rest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = app(&dir, false).await;
    let db = Db::from_state(plain.state()).unwrap();
    reset(db.conn()).await;
    let res = plain
        .test_client()
        .post("/api/posts/bulk")
        .json(&rows(n))
        .send()
        .await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let cached = app(&dir, true).await;
    let hand = Router::new()
        .route("/api/posts", axum::routing::get(hand_list))
        .route("/api/posts/{id}", axum::routing::get(hand_get))
        .with_state(db.conn().clone());
    println!("{n} posts; phial :5201, phial + cache :5202, hand-written axum :5203");
    let listen = async |port: u16| {
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap()
    };
    let (a, b, c) = (listen(5201).await, listen(5202).await, listen(5203).await);
    let _ = tokio::join!(
        axum::serve(a, plain.router()),
        axum::serve(b, cached.router()),
        axum::serve(c, hand),
    );
}

/// A row as a hand-written bulk endpoint would take it: a typed struct
/// serde fills from the body.
#[derive(serde::Deserialize)]
struct RawRow {
    title: String,
    body: String,
    published: bool,
    views: i64,
}

/// The hand-written floor: the same JSON body into typed rows, then
/// multi-row inserts in one transaction (no checks beyond serde's).
async fn raw_insert(conn: &DatabaseConnection, body: &[u8]) {
    let rows: Vec<RawRow> = serde_json::from_slice(body).unwrap();
    let pool = conn.get_sqlite_connection_pool();
    let mut tx = pool.begin().await.unwrap();
    for part in rows.chunks(32_766 / 4) {
        let mut q: QueryBuilder<sqlx::Sqlite> =
            QueryBuilder::new("INSERT INTO bench_post (title, body, published, views) ");
        q.push_values(part, |mut b, r| {
            b.push_bind(r.title.clone())
                .push_bind(r.body.clone())
                .push_bind(r.published)
                .push_bind(r.views);
        });
        q.build().execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// `rest inproc URL N [phial|axum]`: the same request N times through the
/// service, no sockets (for profiling the server side alone).
async fn inproc(url: &str, n: u32, which: &str) {
    use tower::ServiceExt;
    let dir = std::env::temp_dir().join(format!("phial-rest-inproc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let app = app(&dir, false).await;
    let db = Db::from_state(app.state()).unwrap();
    reset(db.conn()).await;
    let res = app
        .test_client()
        .post("/api/posts/bulk")
        .json(&rows(1000))
        .send()
        .await;
    assert_eq!(res.status(), 201);
    let hand = Router::new()
        .route("/api/posts", axum::routing::get(hand_list))
        .route("/api/posts/{id}", axum::routing::get(hand_get))
        .with_state(db.conn().clone());
    let phial = app.router();
    let start = Instant::now();
    for _ in 0..n {
        let req = axum::http::Request::get(url)
            .body(axum::body::Body::empty())
            .unwrap();
        let router = if which == "axum" {
            hand.clone()
        } else {
            phial.clone()
        };
        let res = router.oneshot(req).await.unwrap();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        std::hint::black_box(body);
    }
    println!(
        "{which} {url}: {:.1} us/req",
        start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn bulk(n: usize, rounds: usize) {
    let dir = std::env::temp_dir().join(format!("phial-rest-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let app = app(&dir, false).await;
    let db = Db::from_state(app.state()).unwrap();
    let client = app.test_client();
    let body = serde_json::to_vec(&rows(n)).unwrap();
    let (mut phials, mut raws, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        reset(db.conn()).await;
        let start = Instant::now();
        let res = client
            .post("/api/posts/bulk")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        let phial = n as f64 / start.elapsed().as_secs_f64();
        assert_eq!(res.status(), 201, "{}", res.text());
        reset(db.conn()).await;
        let start = Instant::now();
        raw_insert(db.conn(), &body).await;
        let raw = n as f64 / start.elapsed().as_secs_f64();
        assert_eq!(
            post::Entity::find().count(db.conn()).await.unwrap(),
            n as u64
        );
        phials.push(phial);
        raws.push(raw);
        ratios.push(phial / raw);
    }
    println!("{n} posts per run, SQLite, median of {rounds} rounds");
    println!(
        "REST bulk create (JSON body, checked): {:.0} rows/s; raw multi-row sqlx: {:.0} rows/s; ratio {:.3}",
        median(phials),
        median(raws),
        median(ratios)
    );
    app.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    match std::env::args().nth(1).as_deref() {
        Some("serve") => serve(arg(2, 1_000)).await,
        Some("bulk") => bulk(arg(2, 100_000), arg(3, 5).max(1)).await,
        Some("inproc") => {
            let url = std::env::args()
                .nth(2)
                .unwrap_or_else(|| "/api/posts?per_page=20".into());
            let which = std::env::args().nth(4).unwrap_or_else(|| "phial".into());
            inproc(&url, arg(3, 2000) as u32, &which).await;
        }
        _ => eprintln!("usage: rest serve [ROWS] | rest bulk [ROWS] [ROUNDS]"),
    }
}
