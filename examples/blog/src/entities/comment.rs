//! `comment`: a reader's comment on a post.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One comment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "comment")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The post.
    pub post_id: i32,
    /// Who wrote it.
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub author_name: String,
    /// Text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// When written.
    pub created_at: DateTimeUtc,
}

/// A comment belongs to a post.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Its post.
    #[sea_orm(
        belongs_to = "super::post::Entity",
        from = "Column::PostId",
        to = "super::post::Column::Id"
    )]
    Post,
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Post.def()
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
