//! Bulk insert: many rows per statement, in chunks that stay under each
//! database's bind-parameter limit, all in one transaction, published to
//! the change feed as one event.
//!
//! On SQLite the statement is written here, not by sea-orm's `insert_many`:
//! the rows' values move straight into the statement's parameters, without
//! an expression tree per value that is then walked and copied. Every full
//! chunk is the same SQL, so sqlx prepares it once and reuses it.

use phial_core::changes::Change;
use sea_orm::sea_query::{Expr, Value};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IdenStatic, Iterable, Statement, TransactionTrait,
};

use crate::db::Db;
use crate::error::OrmError;
use crate::write::{key_json, table_of};

/// Most bind parameters one statement may carry.
pub(crate) fn bind_limit(backend: DbBackend) -> usize {
    match backend {
        // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32 (sqlx bundles a newer one).
        DbBackend::Sqlite => 32_766,
        // Both count parameters in an unsigned 16-bit field.
        DbBackend::Postgres | DbBackend::MySql => 65_535,
        _ => 999,
    }
}

/// Rows per statement for rows of `columns` values.
///
/// SQLite parses a statement far more slowly than it runs it, so its
/// chunks stay at ~3,000 parameters: the (cached) statement is prepared
/// once and run many times, instead of a 32,766-parameter one prepared for
/// each distinct chunk length. The others take as many as they allow.
pub(crate) fn rows_per_chunk(backend: DbBackend, columns: usize) -> usize {
    let params = match backend {
        DbBackend::Sqlite => 3_000,
        _ => bind_limit(backend),
    };
    (params / columns.max(1)).max(1)
}

impl Db {
    /// Inserts every model, as few multi-row statements as the database's
    /// parameter limit allows, in one transaction (all or nothing). Returns
    /// the rows inserted. Every model must set the same columns.
    ///
    /// One change is published for the table: with the primary keys when
    /// the models carry them, otherwise with none (the table as a whole).
    pub async fn insert_bulk<A, I>(&self, models: I) -> Result<u64, OrmError>
    where
        A: ActiveModelTrait + Send,
        I: IntoIterator<Item = A>,
    {
        let models: Vec<A> = models.into_iter().collect();
        let Some(first) = models.first() else {
            return Ok(0);
        };
        let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
            .filter(|c| !first.is_not_set(*c))
            .collect();
        let keys: Option<Vec<_>> = models
            .iter()
            .map(|m| m.get_primary_key_value().map(|k| key_json(&k)))
            .collect();
        let backend = self.conn().get_database_backend();
        let chunk = rows_per_chunk(backend, columns.len());
        let txn = self.conn().begin().await?;
        let mut inserted = 0;
        // Chunks are taken from the front of one iterator: each model moves
        // once (splitting the vector off each time copied the whole tail
        // per chunk, a fifth of a 100,000-row insert).
        let mut rows = models.into_iter();
        loop {
            let next: Vec<A> = rows.by_ref().take(chunk).collect();
            if next.is_empty() {
                break;
            }
            inserted += insert_chunk(&txn, backend, &columns, next).await?;
        }
        let change = Change::insert(table_of::<A::Entity>(), keys.unwrap_or_default());
        // Refused (a shared cache that cannot be told): rolled back.
        self.changes().prepare(&change).await?;
        txn.commit().await?;
        self.publish(change).await;
        Ok(inserted)
    }
}

/// One multi-row INSERT: written here on SQLite when every column stores
/// its value as is (no enum cast) and every row sets the same columns as
/// the first; otherwise by sea-orm, which fills gaps with NULLs.
async fn insert_chunk<A>(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    columns: &[<A::Entity as EntityTrait>::Column],
    rows: Vec<A>,
) -> Result<u64, OrmError>
where
    A: ActiveModelTrait + Send,
{
    let plain =
        backend == DbBackend::Sqlite && !columns.is_empty() && columns.iter().all(stored_as_is);
    if !plain {
        return sea_orm_chunk(txn, rows).await;
    }
    let all: Vec<_> = <A::Entity as EntityTrait>::Column::iter().collect();
    let included: Vec<bool> = all
        .iter()
        .map(|c| columns.iter().any(|k| k.as_str() == c.as_str()))
        .collect();
    let count = rows.len();
    let mut taken = Vec::with_capacity(count * all.len());
    let mut same_columns = true;
    for mut row in rows {
        for (c, inc) in all.iter().zip(&included) {
            // Moved out, not cloned.
            let v = row.take(*c);
            same_columns &= !matches!(v, ActiveValue::NotSet) == *inc;
            taken.push(v);
        }
    }
    if !same_columns {
        // Give the rows back to sea-orm as they were (`set` for Set and
        // Unchanged alike: both are inserted).
        let rows = taken
            .chunks(all.len())
            .map(|values| {
                let mut row = A::default();
                for (c, v) in all.iter().zip(values) {
                    if let ActiveValue::Set(v) | ActiveValue::Unchanged(v) = v {
                        row.set(*c, v.clone());
                    }
                }
                row
            })
            .collect();
        return sea_orm_chunk(txn, rows).await;
    }
    let values = taken.into_iter().filter_map(|v| match v {
        ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Some(v),
        ActiveValue::NotSet => None,
    });
    let sql = insert_sql::<A::Entity>(columns, count);
    let stmt = Statement::from_sql_and_values(backend, sql, values);
    Ok(txn.execute_raw(stmt).await?.rows_affected())
}

async fn sea_orm_chunk<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<u64, OrmError>
where
    A: ActiveModelTrait + Send,
{
    Ok(<A::Entity as EntityTrait>::insert_many(rows)
        .exec_without_returning(txn)
        .await?)
}

/// Whether the column stores a value as given (sea-orm would cast enums).
fn stored_as_is<C: ColumnTrait>(c: &C) -> bool {
    let probe = Expr::val(Value::Int(Some(0)));
    c.save_as(probe.clone()) == probe
}

/// `INSERT INTO "table" ("a", "b") VALUES (?, ?), ...` for SQLite.
fn insert_sql<E: EntityTrait>(columns: &[E::Column], rows: usize) -> String {
    let entity = E::default();
    let mut sql = String::with_capacity(64 + rows * (columns.len() * 3 + 3));
    sql.push_str("INSERT INTO ");
    if let Some(schema) = entity.schema_name() {
        quote(&mut sql, schema);
        sql.push('.');
    }
    quote(&mut sql, entity.table_name());
    sql.push_str(" (");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        quote(&mut sql, c.as_str());
    }
    sql.push_str(") VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for i in 0..columns.len() {
            sql.push_str(if i > 0 { ", ?" } else { "?" });
        }
        sql.push(')');
    }
    sql
}

/// An identifier in double quotes, inner quotes doubled (SQLite, as
/// sea-query writes it).
fn quote(sql: &mut String, name: &str) {
    sql.push('"');
    sql.push_str(&name.replace('"', "\"\""));
    sql.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(
        unreachable_pub,
        reason = "sea-orm's derives make the entity's items pub"
    )]
    mod row {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "odd \"name\"")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub title: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    #[test]
    fn the_sql_quotes_names_and_has_a_placeholder_per_value() {
        use sea_orm::Iterable;
        let columns: Vec<_> = row::Column::iter().collect();
        assert!(columns.iter().all(stored_as_is));
        assert_eq!(
            insert_sql::<row::Entity>(&columns, 2),
            r#"INSERT INTO "odd ""name""" ("id", "title") VALUES (?, ?), (?, ?)"#
        );
    }

    #[test]
    fn chunks_fit_the_limit() {
        assert_eq!(rows_per_chunk(DbBackend::Postgres, 5), 13_107);
        assert_eq!(rows_per_chunk(DbBackend::Sqlite, 3), 1_000);
        assert_eq!(rows_per_chunk(DbBackend::MySql, 70_000), 1);
        assert!(
            rows_per_chunk(DbBackend::Sqlite, 40_000) * 40_000 <= bind_limit(DbBackend::Sqlite) * 2
        );
    }
}
