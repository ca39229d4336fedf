//! `phial_admin_user_role`: a user holds a role.

use sea_orm::entity::prelude::*;

/// One user holding one role.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "phial_admin_user_role")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    /// The role.
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_id: i32,
}

/// Both sides are deleted with their user or role.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
