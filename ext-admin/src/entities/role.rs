//! `phial_admin_role`: a named set of per-model permissions, and
//! `phial_admin_user_role`: which users hold which roles.

use sea_orm::entity::prelude::*;

/// One role. `permissions` lists grants as `table.permission` words
/// separated by spaces (`post.view post.change comment.delete`), the
/// permissions being `view`, `add`, `change` and `delete` (Django's).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "phial_admin_role")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Unique; also the role name policies test (`Rule::role("editor")`).
    #[sea_orm(unique, column_type = "String(StringLen::N(80))")]
    pub name: String,
    /// `table.permission` words, space separated.
    #[sea_orm(column_type = "Text")]
    pub permissions: String,
}

/// Roles are held by users through `phial_admin_user_role`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
