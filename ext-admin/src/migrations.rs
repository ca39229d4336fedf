//! The admin's tables, contributed to the app's migrations (one history
//! with the app's own; `db upgrade` applies them).

use sea_orm_migration::prelude::*;

/// Creates `phial_admin_user`.
pub(crate) struct CreateAdminUser;

impl MigrationName for CreateAdminUser {
    fn name(&self) -> &str {
        "m20261202_000001_create_admin_user"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateAdminUser {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("phial_admin_user")
                .col(
                    ColumnDef::new("id")
                        .integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new("username")
                        .string_len(150)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new("password_hash").string_len(200).not_null())
                .col(
                    ColumnDef::new("is_superuser")
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new("is_active")
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(
                    ColumnDef::new("created_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("phial_admin_user").to_owned())
            .await
    }
}
