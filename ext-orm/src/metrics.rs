//! The database's part of `/metrics`: each pool's connections (open, idle,
//! in use, the most it may open) read at scrape time, and every query's
//! duration by database and outcome, timed by sea-orm's metric callback.
//!
//! A pool whose `in_use` stays at `max` is where requests queue for a
//! connection: raise `database.max_connections` or find the slow query in
//! the duration histogram. (sqlx does not report how long an acquire
//! waited, and sea-orm's timing starts once the connection is held.)

use phial_core::metrics::{gauge, histogram};
use sea_orm::{DatabaseBackend, DatabaseConnection};

use crate::Databases;

/// Query durations: `database`, `outcome` = `ok` | `error`.
pub(crate) const QUERY_SECONDS: &str = "phial_db_query_duration_seconds";
/// Pool connections: `database`, `state` = `idle` | `in_use`.
pub(crate) const POOL_CONNECTIONS: &str = "phial_db_pool_connections";
/// The most connections a pool opens: `database`.
pub(crate) const POOL_MAX: &str = "phial_db_pool_max_connections";

/// Times every query on `conn` into the histogram of database `name`.
pub(crate) fn time_queries(name: &str, conn: &mut DatabaseConnection) {
    let ok = histogram!(QUERY_SECONDS, "database" => name.to_owned(), "outcome" => "ok");
    let failed = histogram!(QUERY_SECONDS, "database" => name.to_owned(), "outcome" => "error");
    conn.set_metric_callback(move |info| {
        let seconds = info.elapsed.as_secs_f64();
        if info.failed {
            failed.record(seconds);
        } else {
            ok.record(seconds);
        }
    });
}

/// Sets the pool gauges of every database (run at each scrape).
pub(crate) fn collect(dbs: &Databases) {
    for (name, _, conn) in dbs.all() {
        let Some(pool) = pool_figures(conn) else {
            continue;
        };
        let in_use = (pool.open as usize).saturating_sub(pool.idle);
        gauge!(POOL_CONNECTIONS, "database" => name.to_owned(), "state" => "idle")
            .set(pool.idle as f64);
        gauge!(POOL_CONNECTIONS, "database" => name.to_owned(), "state" => "in_use")
            .set(in_use as f64);
        gauge!(POOL_MAX, "database" => name.to_owned()).set(f64::from(pool.max));
    }
}

/// Describes the figures once, for the page's `# HELP` lines.
pub(crate) fn describe() {
    phial_core::metrics::describe_histogram!(
        QUERY_SECONDS,
        phial_core::metrics::Unit::Seconds,
        "Time a query took once it held a connection, by database and outcome"
    );
    phial_core::metrics::describe_gauge!(
        POOL_CONNECTIONS,
        "Connections of a database's pool, idle or in use by a request"
    );
    phial_core::metrics::describe_gauge!(POOL_MAX, "The most connections a database's pool opens");
}

struct PoolFigures {
    open: u32,
    idle: usize,
    max: u32,
}

fn pool_figures(conn: &DatabaseConnection) -> Option<PoolFigures> {
    macro_rules! figures {
        ($pool:expr) => {{
            let pool = $pool;
            Some(PoolFigures {
                open: pool.size(),
                idle: pool.num_idle(),
                max: pool.options().get_max_connections(),
            })
        }};
    }
    // Every connection here came from `Database::connect` (a sqlx pool),
    // so the backend's pool getter cannot meet another kind.
    match conn.get_database_backend() {
        DatabaseBackend::Sqlite => figures!(conn.get_sqlite_connection_pool()),
        #[cfg(feature = "postgres")]
        DatabaseBackend::Postgres => figures!(conn.get_postgres_connection_pool()),
        #[cfg(feature = "mysql")]
        DatabaseBackend::MySql => figures!(conn.get_mysql_connection_pool()),
        _ => None,
    }
}
