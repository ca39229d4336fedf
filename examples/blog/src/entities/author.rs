//! `author`: who writes posts.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One author.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "author")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Display name.
    pub name: String,
    /// Unique address.
    #[sea_orm(unique)]
    pub email: String,
}

/// An author has posts.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Their posts.
    #[sea_orm(has_many = "super::post::Entity")]
    Post,
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Post.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
