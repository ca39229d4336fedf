//! Indexes for every column a list sorts, filters or searches by (the
//! admin's, the API's and the pages'), so each page costs the same at a
//! thousand rows and at a million: foreign keys (PostgreSQL and SQLite
//! make no index for them), sort columns and filters; on PostgreSQL,
//! trigram indexes for the search (`lower(column) LIKE '%term%'`).
//! `check --deploy` names any list column left without one.

use phial::migrate::sea_orm_migration::prelude::*;
use phial::migrate::sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (table, column) led by a b-tree index.
const PLAIN: [(&str, &str); 10] = [
    ("post", "created_at"),
    ("post", "author_id"),
    ("post", "published"),
    ("post", "title"),
    ("comment", "post_id"),
    ("comment", "created_at"),
    ("comment", "author_name"),
    ("author", "name"),
    ("author", "email"),
    ("post", "published_created_at"),
];

/// (table, column) searched: a trigram index on PostgreSQL.
const SEARCHED: [(&str, &str); 6] = [
    ("post", "title"),
    ("post", "body"),
    ("author", "name"),
    ("author", "email"),
    ("comment", "author_name"),
    ("comment", "body"),
];

fn name(table: &str, column: &str) -> String {
    format!("{table}_{column}_idx")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in PLAIN {
            let mut index = Index::create();
            index.name(name(table, column)).table(table);
            if column == "published_created_at" {
                // The public list: published posts, newest first.
                index.col("published").col("created_at");
            } else {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .await?;
            for (table, column) in SEARCHED {
                db.execute_unprepared(&format!(
                    "CREATE INDEX {table}_{column}_trgm ON {table} \
                     USING gin (lower({column}) gin_trgm_ops)"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            for (table, column) in SEARCHED {
                db.execute_unprepared(&format!("DROP INDEX IF EXISTS {table}_{column}_trgm"))
                    .await?;
            }
        }
        for (table, column) in PLAIN {
            manager
                .drop_index(
                    Index::drop()
                        .name(name(table, column))
                        .table(table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
