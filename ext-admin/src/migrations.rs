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

/// Creates `phial_admin_role`, `phial_admin_user_role` and
/// `phial_admin_log`.
pub(crate) struct CreateAdminRolesAndLog;

impl MigrationName for CreateAdminRolesAndLog {
    fn name(&self) -> &str {
        "m20261202_000002_create_admin_roles_and_log"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateAdminRolesAndLog {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("phial_admin_role")
                .col(
                    ColumnDef::new("id")
                        .integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new("name")
                        .string_len(80)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new("permissions").text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("phial_admin_user_role")
                .col(ColumnDef::new("user_id").integer().not_null())
                .col(ColumnDef::new("role_id").integer().not_null())
                .primary_key(Index::create().col("user_id").col("role_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("phial_admin_user_role", "user_id")
                        .to("phial_admin_user", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("phial_admin_user_role", "role_id")
                        .to("phial_admin_role", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("phial_admin_log")
                .col(
                    ColumnDef::new("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new("at").timestamp_with_time_zone().not_null())
                .col(ColumnDef::new("user_id").integer().null())
                .col(ColumnDef::new("username").string_len(150).not_null())
                .col(ColumnDef::new("table_name").string_len(100).not_null())
                .col(ColumnDef::new("object_key").string_len(200).not_null())
                .col(ColumnDef::new("object_label").string_len(200).not_null())
                .col(ColumnDef::new("action").string_len(40).not_null())
                .col(ColumnDef::new("changes").text().not_null())
                .col(ColumnDef::new("reverted_by").big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("phial_admin_log_object")
                .table("phial_admin_log")
                .col("table_name")
                .col("object_key")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "phial_admin_log",
            "phial_admin_user_role",
            "phial_admin_role",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Adds `cascade_of` (the entry whose delete took this row with it) and
/// `hidden_changes` (the before/after of columns never shown, so a revert
/// restores the whole row) to `phial_admin_log`.
pub(crate) struct AddLogCascadeAndHidden;

impl MigrationName for AddLogCascadeAndHidden {
    fn name(&self) -> &str {
        "m20261207_000003_admin_log_cascade_and_hidden"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for AddLogCascadeAndHidden {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        m.alter_table(
            Table::alter()
                .table("phial_admin_log")
                .add_column(ColumnDef::new("cascade_of").big_integer().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("phial_admin_log")
                .add_column(ColumnDef::new("hidden_changes").text().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("phial_admin_log_cascade_of")
                .table("phial_admin_log")
                .col("cascade_of")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("phial_admin_log_cascade_of")
                .table("phial_admin_log")
                .to_owned(),
        )
        .await?;
        for col in ["hidden_changes", "cascade_of"] {
            m.alter_table(
                Table::alter()
                    .table("phial_admin_log")
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
