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
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub name: String,
    /// Unique address.
    #[sea_orm(unique, column_type = "String(StringLen::N(200))")]
    pub email: String,
    /// scrypt PHC string (`phial::password`); empty: cannot sign in.
    /// Never serialised, and hidden from the REST API.
    #[serde(skip_serializing)]
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub password_hash: String,
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

/// An author made without a password (through the API, which never
/// writes the hash) gets an empty one: they cannot sign in until given one.
#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    async fn before_save<C: ConnectionTrait>(
        mut self,
        _db: &C,
        insert: bool,
    ) -> Result<Self, DbErr> {
        if insert && self.password_hash.is_not_set() {
            self.password_hash = sea_orm::ActiveValue::Set(String::new());
        }
        Ok(self)
    }
}
