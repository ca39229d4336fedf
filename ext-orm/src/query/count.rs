//! Counts that cost the same at any table size: a count reads at most
//! `limit + 1` rows, and a table past the limit is described by the
//! database's own estimate (PostgreSQL's statistics, MySQL's table
//! status) or as "more than the limit", never counted in full.

use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, Query};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QuerySelect, Select,
    Statement,
};

/// The database's own estimate of a table's rows, without scanning;
/// `None` on SQLite or when no statistics exist yet.
pub async fn estimate(db: &DatabaseConnection, table: &str) -> Option<u64> {
    let backend = db.get_database_backend();
    let stmt = match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(
            backend,
            "SELECT reltuples::bigint AS n FROM pg_class WHERE oid = to_regclass($1)",
            [table.into()],
        ),
        DbBackend::MySql => Statement::from_sql_and_values(
            backend,
            "SELECT CAST(TABLE_ROWS AS SIGNED) AS n FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            [table.into()],
        ),
        _ => return None,
    };
    let row = db.query_one_raw(stmt).await.ok()??;
    let n: i64 = row.try_get("", "n").ok()?;
    // PostgreSQL says -1 for a table never analysed.
    (n >= 0).then_some(n as u64)
}

/// Rows `select` finds, counted up to `limit + 1` at most.
pub async fn bounded<E: EntityTrait>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    limit: u64,
) -> Result<u64, DbErr> {
    let mut inner = select.select_only();
    inner = inner.expr(Expr::val(1)).limit(limit.saturating_add(1));
    let inner = QuerySelect::query(&mut inner).to_owned();
    let outer = Query::select()
        .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
        .from_subquery(inner, Alias::new("bounded"))
        .to_owned();
    let backend = db.get_database_backend();
    let row = db.query_one_raw(backend.build(&outer)).await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

/// How many rows a list has, as far as a bounded count can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    /// Counted: this many.
    Exact(u64),
    /// Past the limit; the whole table holds about this many (the
    /// database's estimate, for a list not narrowed).
    About(u64),
    /// Past the limit, by this many rows at least.
    MoreThan(u64),
}

impl Total {
    /// The exact count, when there is one.
    pub fn exact(self) -> Option<u64> {
        match self {
            Total::Exact(n) => Some(n),
            _ => None,
        }
    }

    /// The best number there is (exact, the estimate, or the limit).
    pub fn number(self) -> u64 {
        match self {
            Total::Exact(n) | Total::About(n) | Total::MoreThan(n) => n,
        }
    }
}

/// The total of the rows `narrowed` finds in `table`, read with one
/// bounded count: exact up to `limit`, else "more than `limit`"; a list not
/// narrowed past the limit reads the database's estimate instead (a large
/// table is never counted).
pub async fn total<E: EntityTrait>(
    db: &DatabaseConnection,
    table: &str,
    narrowed: Option<Select<E>>,
    limit: u64,
) -> Result<Total, DbErr> {
    let counted = |n: u64| {
        if n > limit {
            Total::MoreThan(limit)
        } else {
            Total::Exact(n)
        }
    };
    if let Some(select) = narrowed {
        // A filter narrows a large table to a few rows as often as not:
        // count what it finds (bounded), whatever the table's size.
        return Ok(counted(bounded(db, select, limit).await?));
    }
    if let Some(e) = estimate(db, table).await.filter(|e| *e > limit) {
        return Ok(Total::About(e));
    }
    Ok(counted(bounded(db, E::find(), limit).await?))
}
