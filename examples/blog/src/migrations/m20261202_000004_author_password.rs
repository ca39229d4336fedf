//! Gives authors a password (an scrypt PHC string; empty: cannot sign in).

use phial::migrate::sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("author")
                    .add_column(
                        ColumnDef::new("password_hash")
                            .string_len(200)
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("author")
                    .drop_column("password_hash")
                    .to_owned(),
            )
            .await
    }
}
