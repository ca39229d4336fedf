//! Run with: `cargo run --release -p phial-bench --bin bulk-insert [ROWS] [ROUNDS]`
//!
//! Inserts ROWS (default 100,000) rows three ways, on SQLite and (when
//! reachable) PostgreSQL, and prints rows/s and ratios: Phial's chunked
//! `insert_bulk`, raw multi-row sqlx inserts in one transaction (the floor:
//! one statement per 32,766 bind parameters, the most SQLite takes), and a
//! plain row-by-row loop of sea-orm inserts (what code without a bulk
//! helper does; on ROWS / 20 rows, it is slow). Phial and raw sqlx run
//! ROUNDS times (default 5), alternating; the figures are medians, the
//! ratio the median of each round's ratio.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::time::Instant;

use phial::orm::{Db, Orm};
use phial::{App, Config};
use sea_orm::sqlx::{self, QueryBuilder};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait, Schema, TransactionTrait,
};

#[expect(
    unreachable_pub,
    reason = "sea-orm's derives make the entity's items pub"
)]
mod row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "phial_bench_row")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub a: i32,
        pub b: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn models(n: usize) -> impl Iterator<Item = row::ActiveModel> {
    (0..n as i32).map(|i| row::ActiveModel {
        id: Set(i),
        a: Set(i * 7),
        b: Set(format!("row {i}")),
    })
}

async fn reset(db: &Db) {
    db.conn()
        .execute_unprepared("DROP TABLE IF EXISTS phial_bench_row")
        .await
        .unwrap();
    db.conn()
        .execute(
            &Schema::new(db.conn().get_database_backend()).create_table_from_entity(row::Entity),
        )
        .await
        .unwrap();
}

async fn phial_bulk(db: &Db, n: usize) {
    assert_eq!(db.insert_bulk(models(n)).await.unwrap(), n as u64);
}

async fn row_by_row(db: &Db, n: usize) {
    for m in models(n) {
        row::Entity::insert(m)
            .exec_without_returning(db.conn())
            .await
            .unwrap();
    }
}

async fn raw_sqlx(db: &Db, n: usize) {
    // A fixed floor, whatever chunking Phial picks.
    let chunk = 32_766 / 3;
    let rows: Vec<(i32, i32, String)> = (0..n as i32)
        .map(|i| (i, i * 7, format!("row {i}")))
        .collect();
    match db.conn().get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.conn().get_postgres_connection_pool();
            let mut tx = pool.begin().await.unwrap();
            for part in rows.chunks(chunk) {
                let mut q: QueryBuilder<sqlx::Postgres> =
                    QueryBuilder::new("INSERT INTO phial_bench_row (id, a, b) ");
                q.push_values(part, |mut b, r| {
                    b.push_bind(r.0).push_bind(r.1).push_bind(r.2.clone());
                });
                q.build().execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        _ => {
            let pool = db.conn().get_sqlite_connection_pool();
            let mut tx = pool.begin().await.unwrap();
            for part in rows.chunks(chunk) {
                let mut q: QueryBuilder<sqlx::Sqlite> =
                    QueryBuilder::new("INSERT INTO phial_bench_row (id, a, b) ");
                q.push_values(part, |mut b, r| {
                    b.push_bind(r.0).push_bind(r.1).push_bind(r.2.clone());
                });
                q.build().execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
    }
}

async fn timed<F: AsyncFnOnce(&Db, usize)>(db: &Db, n: usize, f: F) -> f64 {
    reset(db).await;
    let start = Instant::now();
    f(db, n).await;
    let secs = start.elapsed().as_secs_f64();
    let count = db.conn().begin().await.unwrap();
    let got = row::Entity::find().all(&count).await.unwrap().len();
    assert_eq!(got, n, "every row arrived");
    n as f64 / secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let n = arg(1, 100_000);
    let rounds = arg(2, 5).max(1);
    let dir = std::env::temp_dir().join(format!("phial-bulk-{}", std::process::id()));
    let mut targets = vec![(
        "SQLite",
        format!("sqlite://{}", dir.join("bench.sqlite").display()),
    )];
    if let Some(url) = phial::testing::service_url(
        "PostgreSQL",
        "PHIAL_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
    .await
    {
        targets.push(("PostgreSQL", url));
    }
    println!("{n} rows of (id, a, b) per run, median of {rounds} rounds");
    println!(
        "{:<11} {:>16} {:>16} {:>16} {:>12} {:>14}",
        "database", "phial rows/s", "raw sqlx rows/s", "row-by-row/s", "phial/raw", "phial/by-row"
    );
    for (name, url) in targets {
        let app = App::builder(Config::testing().set("database.url", &url))
            .root_path(&dir)
            .register(Orm::new())
            .build()
            .await
            .unwrap();
        let db = Db::from_state(app.state()).unwrap();
        let (mut phials, mut raws, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let phial = timed(&db, n, phial_bulk).await;
            let raw = timed(&db, n, raw_sqlx).await;
            phials.push(phial);
            raws.push(raw);
            ratios.push(phial / raw);
        }
        let (phial, raw) = (median(phials), median(raws));
        let by_row = timed(&db, (n / 20).max(1), row_by_row).await;
        println!(
            "{name:<11} {phial:>16.0} {raw:>16.0} {by_row:>16.0} {:>12.3} {:>14.1}",
            median(ratios),
            phial / by_row
        );
        db.conn()
            .execute_unprepared("DROP TABLE IF EXISTS phial_bench_row")
            .await
            .unwrap();
        app.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
