//! `phial_admin_user`: who may sign in to the admin.

use sea_orm::entity::prelude::*;

/// One admin user. The password is an scrypt PHC string, never the
/// password.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "phial_admin_user")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Unique; letters, digits and `@.+-_`, at most 150 characters.
    #[sea_orm(unique, column_type = "String(StringLen::N(150))")]
    pub username: String,
    /// scrypt (N = 2^17, r = 8, p = 1), PHC format.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub password_hash: String,
    /// Every permission, whatever the roles say.
    pub is_superuser: bool,
    /// An inactive user cannot sign in (kept for the audit log).
    pub is_active: bool,
    /// When created.
    pub created_at: DateTimeUtc,
}

/// No relations yet.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
