//! `post`: an article by an author.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One post.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "post")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The author.
    pub author_id: i32,
    /// Title.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub title: String,
    /// Text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Shown on the index.
    #[sea_orm(default_value = false)]
    pub published: bool,
    /// When written.
    pub created_at: DateTimeUtc,
}

/// A post belongs to an author and has comments.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Its author.
    #[sea_orm(
        belongs_to = "super::author::Entity",
        from = "Column::AuthorId",
        to = "super::author::Column::Id"
    )]
    Author,
    /// Its comments.
    #[sea_orm(has_many = "super::comment::Entity")]
    Comment,
}

impl Related<super::author::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Author.def()
    }
}

impl Related<super::comment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Comment.def()
    }
}

/// New rows get their creation time (see `stamp_created`).
#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    async fn before_save<C: ConnectionTrait>(
        mut self,
        _db: &C,
        insert: bool,
    ) -> Result<Self, DbErr> {
        super::stamp_created(&mut self.created_at, insert);
        Ok(self)
    }
}
