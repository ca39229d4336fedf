//! Bulk insert: many rows per statement, in chunks that stay under each
//! database's bind-parameter limit, all in one transaction, published to
//! the change feed as one event.

use phial_core::changes::Change;
use sea_orm::{ActiveModelTrait, DbBackend, EntityTrait, Iterable, TransactionTrait};

use crate::db::Db;
use crate::error::OrmError;
use crate::write::{key_json, table_of};

/// Most bind parameters one statement may carry.
pub fn bind_limit(backend: DbBackend) -> usize {
    match backend {
        // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32 (sqlx bundles a newer one).
        DbBackend::Sqlite => 32_766,
        // Both count parameters in an unsigned 16-bit field.
        DbBackend::Postgres | DbBackend::MySql => 65_535,
        _ => 999,
    }
}

/// Rows per statement for rows of `columns` values.
pub fn rows_per_chunk(backend: DbBackend, columns: usize) -> usize {
    (bind_limit(backend) / columns.max(1)).max(1)
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
        let columns = <A::Entity as EntityTrait>::Column::iter()
            .filter(|c| !first.is_not_set(*c))
            .count();
        let keys: Option<Vec<_>> = models
            .iter()
            .map(|m| m.get_primary_key_value().map(|k| key_json(&k)))
            .collect();
        let chunk = rows_per_chunk(self.conn().get_database_backend(), columns);
        let txn = self.conn().begin().await?;
        let mut inserted = 0;
        let mut rest = models;
        while !rest.is_empty() {
            let tail = rest.split_off(chunk.min(rest.len()));
            inserted += <A::Entity as EntityTrait>::insert_many(rest)
                .exec_without_returning(&txn)
                .await?;
            rest = tail;
        }
        txn.commit().await?;
        self.publish(Change::insert(
            table_of::<A::Entity>(),
            keys.unwrap_or_default(),
        ))
        .await;
        Ok(inserted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_fit_the_limit() {
        assert_eq!(rows_per_chunk(DbBackend::Postgres, 5), 13_107);
        assert_eq!(rows_per_chunk(DbBackend::Sqlite, 3), 10_922);
        assert_eq!(rows_per_chunk(DbBackend::MySql, 70_000), 1);
    }
}
