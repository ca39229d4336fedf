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

/// The most rows a filtered list counts, whatever the count limit: a
/// filter can keep most of a large table (every published post), and a
/// count of ten thousand rows would cost more than the page it is for. The
/// limit (`rest.count_limit`, `admin.count_limit`) caps it lower.
pub const NARROWED_LIMIT: u64 = 1_000;

/// The total a page already tells, without a count: a page with rows (or
/// the first) after which no row follows ends the list, so the list has
/// `offset + shown` rows. `None` when the page cannot say (more rows
/// follow, a keyset page whose offset is unknown, a page past the end).
///
/// ```
/// use phial_orm::query::count::{Total, from_page};
/// assert_eq!(from_page(Some(40), 3, false), Some(Total::Exact(43)));
/// assert_eq!(from_page(Some(0), 0, false), Some(Total::Exact(0)));
/// assert_eq!(from_page(Some(40), 20, true), None);
/// assert_eq!(from_page(Some(40), 0, false), None, "past the end");
/// assert_eq!(from_page(None, 3, false), None, "a cursor page");
/// ```
pub fn from_page(offset: Option<u64>, shown: u64, more: bool) -> Option<Total> {
    match offset {
        Some(offset) if !more && (shown > 0 || offset == 0) => Some(Total::Exact(offset + shown)),
        _ => None,
    }
}

/// The total of the rows `narrowed` finds in `table`, read with one
/// bounded count: exact up to `limit` (up to [`NARROWED_LIMIT`] for a
/// filtered list), else "more than" that; a list not narrowed past the
/// limit reads the database's estimate instead (a large table is never
/// counted). Ask [`from_page`] first: a list that ends on its page needs
/// no count at all.
pub async fn total<E: EntityTrait>(
    db: &DatabaseConnection,
    table: &str,
    narrowed: Option<Select<E>>,
    limit: u64,
) -> Result<Total, DbErr> {
    let counted = |n: u64, limit: u64| {
        if n > limit {
            Total::MoreThan(limit)
        } else {
            Total::Exact(n)
        }
    };
    if let Some(select) = narrowed {
        // A filter narrows a large table to a few rows as often as not:
        // count what it finds (bounded), whatever the table's size.
        let limit = limit.min(NARROWED_LIMIT);
        return Ok(counted(bounded(db, select, limit).await?, limit));
    }
    if let Some(e) = estimate(db, table).await.filter(|e| *e > limit) {
        return Ok(Total::About(e));
    }
    Ok(counted(bounded(db, E::find(), limit).await?, limit))
}
