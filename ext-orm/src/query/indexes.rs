//! Lists whose cost does not grow with the table: each list door says
//! which columns it sorts, filters and searches by ([`ListColumns`]), and
//! at startup the connected database is asked which of them an index
//! serves. Those it does not are named — a warning at startup in
//! development, and in `check --deploy` — with the statement that adds
//! the index. The primary key is always served.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// What one list reaches its rows by.
///
/// ```
/// use phial_orm::query::indexes::ListColumns;
/// let cols = ListColumns { sort: vec!["created_at".into()], filter: vec![], search: vec!["title".into()] };
/// assert!(cols.uses("created_at"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListColumns {
    /// Columns the list sorts by (its default sort first).
    pub sort: Vec<String>,
    /// Columns filters compare.
    pub filter: Vec<String>,
    /// Columns the search looks in (`lower(column) LIKE '%term%'`).
    pub search: Vec<String>,
}

impl ListColumns {
    /// Whether the list uses `column` at all.
    pub fn uses(&self, column: &str) -> bool {
        [&self.sort, &self.filter, &self.search]
            .iter()
            .any(|l| l.iter().any(|c| c == column))
    }
}

/// The indexes a table has, as far as lists care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableIndexes {
    /// Columns that lead an index (an index on `(a, b)` serves `a`).
    pub leading: HashSet<String>,
    /// Columns a trigram index on `lower(column)` serves (PostgreSQL).
    pub trigram: HashSet<String>,
}

/// Whether `table` exists on the connected database.
async fn exists(db: &DatabaseConnection, table: &str) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_class WHERE oid = to_regclass($1)"
        }
        DbBackend::MySql => {
            "SELECT CAST(COUNT(*) AS SIGNED) AS n FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
        }
        _ => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [table.into()]))
        .await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(n > 0)
}

/// Reads `table`'s indexes from the database's catalog; `None` when the
/// table does not exist (yet: migrations are `db check`'s to report).
pub async fn of(db: &DatabaseConnection, table: &str) -> Result<Option<TableIndexes>, DbErr> {
    if !exists(db, table).await? {
        return Ok(None);
    }
    let backend = db.get_database_backend();
    let stmt = match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(
            backend,
            "SELECT a.attname::text AS col, pg_get_indexdef(i.indexrelid) AS def \
             FROM pg_index i LEFT JOIN pg_attribute a \
               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = to_regclass($1)",
            [table.into()],
        ),
        DbBackend::MySql => Statement::from_sql_and_values(
            backend,
            "SELECT COLUMN_NAME AS col, INDEX_TYPE AS def FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND SEQ_IN_INDEX = 1",
            [table.into()],
        ),
        _ => Statement::from_sql_and_values(
            backend,
            "SELECT ii.name AS col, il.name AS def FROM pragma_index_list(?) il \
             JOIN pragma_index_info(il.name) ii WHERE ii.seqno = 0",
            [table.into()],
        ),
    };
    let mut out = TableIndexes::default();
    for row in db.query_all_raw(stmt).await? {
        let col: Option<String> = row.try_get("", "col").ok();
        let def: String = row.try_get("", "def").unwrap_or_default();
        if let Some(col) = col {
            out.leading.insert(col);
        } else if def.contains("_trgm_ops") {
            // `... USING gin (lower((title)::text) gin_trgm_ops)`
            if let Some(inner) = def.split("lower(").nth(1) {
                let name: String = inner
                    .trim_start_matches('(')
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '"')
                    .filter(|c| *c != '"')
                    .collect();
                out.trigram.insert(name);
            }
        }
    }
    Ok(Some(out))
}

/// One column a list uses without an index to serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// `sort`, `filter` or `search`.
    pub use_: &'static str,
    /// The statement that adds the index, or what the database can do.
    pub fix: String,
    /// Whether an index would serve it: `false` for a search on a
    /// database whose indexes cannot serve `LIKE '%term%'` (reported for
    /// the record, not warned about).
    pub indexable: bool,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}.{}` is a {} column of a list and no index serves it: {}; {}",
            self.table,
            self.column,
            self.use_,
            if self.indexable {
                "every page reads the whole table as it grows"
            } else {
                "a search reads the whole table"
            },
            self.fix
        )
    }
}

/// The columns `cols` uses that `found` does not serve on `backend`
/// (`key`: the primary key, always served).
pub fn missing(
    backend: DbBackend,
    table: &str,
    key: &[String],
    cols: &ListColumns,
    found: &TableIndexes,
) -> Vec<Missing> {
    let mut out: Vec<Missing> = Vec::new();
    let mut seen = HashSet::new();
    let served = |c: &str| found.leading.contains(c) || key.first().is_some_and(|k| k == c);
    for (use_, list) in [("sort", &cols.sort), ("filter", &cols.filter)] {
        for c in list {
            if served(c) || !seen.insert(c.clone()) {
                continue;
            }
            out.push(Missing {
                table: table.to_owned(),
                column: c.clone(),
                use_,
                fix: format!(
                    "add it in a migration: `CREATE INDEX {table}_{c}_idx ON {table} ({c})` \
                     (sea-orm-migration: `Index::create().name(\"{table}_{c}_idx\").table(..).col(..)`)"
                ),
                indexable: true,
            });
        }
    }
    for c in &cols.search {
        if found.trigram.contains(c) {
            continue;
        }
        let fix = match backend {
            DbBackend::Postgres => format!(
                "add a trigram index in a migration: `CREATE EXTENSION IF NOT EXISTS pg_trgm; \
                 CREATE INDEX {table}_{c}_trgm ON {table} USING gin (lower({c}) gin_trgm_ops)`"
            ),
            DbBackend::MySql => "MySQL/MariaDB use no index for `LIKE '%term%'`: search fewer \
                                 columns, or keep the searched table small"
                .to_owned(),
            _ => "SQLite uses no index for `LIKE '%term%'`: search fewer columns, or move to \
                  PostgreSQL (trigram indexes) as the table grows"
                .to_owned(),
        };
        out.push(Missing {
            table: table.to_owned(),
            column: c.clone(),
            use_: "search",
            fix,
            indexable: backend == DbBackend::Postgres,
        });
    }
    out
}
