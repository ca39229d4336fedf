//! `phial_session`, for `session.store = "database"`: contributed to the
//! app's migrations (one history with the app's own; `db upgrade` applies
//! it), whichever store the app uses, so switching to the database later
//! needs no new migration.

use sea_orm_migration::prelude::*;

/// Creates `phial_session`.
pub(crate) struct CreateSession;

impl MigrationName for CreateSession {
    fn name(&self) -> &str {
        "m20261207_000001_create_session"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateSession {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(crate::db_store::TABLE)
                .col(
                    ColumnDef::new("key")
                        .string_len(255)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new("value").text().not_null())
                .col(ColumnDef::new("expires_at").big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("phial_session_expires_at")
                .table(crate::db_store::TABLE)
                .col("expires_at")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(crate::db_store::TABLE).to_owned())
            .await
    }
}
