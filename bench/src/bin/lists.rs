//! Lists whose cost does not grow with the table: the blog as shipped
//! (its own migrations and indexes, its policies) on PostgreSQL, each page
//! uncached and rendered in-process, at 1,000 posts and then at 1,000,000:
//! the admin's first page, a REST list page, a search on both, a REST
//! filter on a foreign key, and a post's page with no comments while
//! another post holds a twentieth of the table's size in comments. Prints
//! the median of each and the ratio between the sizes (goal: at most 3×).
//!
//! `cargo run --release -p phial-bench --bin lists -- [SMALL,LARGE] [REPEAT]`
//! (`PHIAL_BENCH_PG`, default `postgres://postgres@127.0.0.1:5432/test`:
//! the benchmark makes and drops its own database `phial_bench_lists`
//! there), or `scripts/bench-lists.sh`.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::time::{Duration, Instant};

use phial::orm::Db;
use phial::testing::TestClient;
use phial::{App, Config};
use sea_orm::ConnectionTrait;

const TOKEN: &str = "bench-lists-token-0123456789abcdef0123456789";
const PASSWORD: &str = "correct horse battery";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Adds posts up to `rows` (and comments on post 2 up to `rows / 20`),
/// then refreshes the planner's statistics.
async fn grow(db: &Db, from: u64, rows: u64) {
    let c = db.conn();
    c.execute_unprepared(&format!(
        "INSERT INTO post (author_id, title, body, published, created_at) \
         SELECT 1 + g % 100, 'post ' || g || CASE WHEN g = 777 THEN ' needle' ELSE '' END, \
                'the body of post ' || g || ', with some words in it', g % 10 <> 0, \
                TIMESTAMPTZ '2020-01-01' + g * INTERVAL '1 minute' \
         FROM generate_series({}, {rows}) AS g",
        from + 1
    ))
    .await
    .expect("posts");
    c.execute_unprepared(&format!(
        "INSERT INTO comment (post_id, author_name, body, created_at) \
         SELECT 2, 'reader ' || g, 'comment ' || g, \
                TIMESTAMPTZ '2021-01-01' + g * INTERVAL '1 second' \
         FROM generate_series({}, {}) AS g",
        from / 20 + 1,
        rows / 20
    ))
    .await
    .expect("comments");
    c.execute_unprepared("ANALYZE post; ANALYZE comment; ANALYZE author")
        .await
        .expect("analyze");
}

async fn time_page(http: &TestClient, url: &str, auth: Option<&str>, repeat: usize) -> Duration {
    let send = || {
        let mut req = http.get(url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    let first = send().await;
    assert_eq!(first.status(), 200, "{url}: {}", first.text());
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let t = Instant::now();
        let res = send().await;
        times.push(t.elapsed());
        assert_eq!(res.status(), 200);
    }
    median(times)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let sizes: Vec<u64> = args
        .next()
        .unwrap_or_else(|| "1000,1000000".into())
        .split(',')
        .map(|s| s.parse().expect("sizes are numbers"))
        .collect();
    let repeat: usize = args.next().map_or(25, |s| s.parse().expect("a count"));
    let server = std::env::var("PHIAL_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let admin_conn = sea_orm::Database::connect(&server)
        .await
        .expect("PostgreSQL");
    admin_conn
        .execute_unprepared("DROP DATABASE IF EXISTS phial_bench_lists WITH (FORCE)")
        .await
        .expect("drop");
    admin_conn
        .execute_unprepared("CREATE DATABASE phial_bench_lists")
        .await
        .expect("create");
    let url = format!(
        "{}/phial_bench_lists",
        server.rsplit_once('/').expect("a database in the URL").0
    );
    let config = Config::testing()
        .set("database.url", url.as_str())
        .set("rest.cache", false)
        .set("rate_limit.enabled", false)
        .set("blog.api_token", TOKEN)
        .set("session.store", "memory")
        .set("trace", false);
    let app: App = blog::create_app(config).await.expect("the blog builds");
    let db = Db::from_state(app.state()).expect("a database");
    db.conn()
        .execute_unprepared(
            "INSERT INTO author (name, email, password_hash) \
             SELECT 'author ' || g, 'author' || g || '@example.com', '' \
             FROM generate_series(1, 100) AS g",
        )
        .await
        .expect("authors");
    phial::admin::create_user(&db, "bench", PASSWORD, true)
        .await
        .expect("a superuser");
    let staff = app.test_client();
    let form = staff.get("/admin/login").send().await;
    let token = form.csrf_token().expect("a CSRF field");
    let res = staff
        .post("/admin/login")
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "bench"),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 303, "sign-in: {}", res.text());
    let anonymous = app.test_client();
    let bearer = format!("Bearer {TOKEN}");
    let cases: [(&str, &TestClient, &str, Option<&str>); 8] = [
        ("admin: first page", &staff, "/admin/post/", None),
        (
            "admin: search, one match",
            &staff,
            "/admin/post/?q=needle",
            None,
        ),
        (
            "admin: filter by author",
            &staff,
            "/admin/post/?author_id=7",
            None,
        ),
        (
            "REST: list page (anonymous)",
            &anonymous,
            "/api/posts?per_page=20",
            None,
        ),
        (
            "REST: newest first (token)",
            &anonymous,
            "/api/posts?sort=-created_at",
            Some(&bearer),
        ),
        (
            "REST: search, one match",
            &anonymous,
            "/api/posts?q=needle",
            None,
        ),
        (
            "REST: comments of a post",
            &anonymous,
            "/api/comments?post_id=1",
            None,
        ),
        (
            "page: a post with no comments",
            &anonymous,
            "/posts/1",
            None,
        ),
    ];
    let mut results: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let mut have = 0;
    for &rows in &sizes {
        grow(&db, have, rows).await;
        have = rows;
        for (i, (_, http, url, auth)) in cases.iter().enumerate() {
            results[i].push(time_page(http, url, *auth, repeat).await);
        }
    }
    println!("the blog as shipped on PostgreSQL, uncached, in-process, median of {repeat} (ms)\n");
    print!("{:<32}", "page");
    for rows in &sizes {
        print!(" {:>12}", format!("{rows} rows"));
    }
    println!(" {:>8}", "ratio");
    let mut worst: f64 = 0.0;
    for (i, (label, ..)) in cases.iter().enumerate() {
        print!("{label:<32}");
        for d in &results[i] {
            print!(" {:>12.2}", ms(*d));
        }
        let ratio = ms(*results[i].last().expect("a size")) / ms(results[i][0]);
        worst = worst.max(ratio);
        println!(" {ratio:>7.2}×");
    }
    println!("\nworst ratio {worst:.2}× (goal: at most 3×)");
    drop(app);
    admin_conn
        .execute_unprepared("DROP DATABASE IF EXISTS phial_bench_lists WITH (FORCE)")
        .await
        .ok();
}
