//! `phial_admin_log`: every write made through the admin — who, when,
//! which row, and what changed, field by field (the columns it never
//! shows kept apart, for reverts) — and every change to staff users,
//! roles and sign-ins.

use sea_orm::entity::prelude::*;

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "phial_admin_log")]
pub struct Model {
    /// Key, in time order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When.
    pub at: DateTimeUtc,
    /// The admin user (kept when the user is deleted: the name stays).
    pub user_id: Option<i32>,
    /// Their name at the time.
    #[sea_orm(column_type = "String(StringLen::N(150))")]
    pub username: String,
    /// The model's table.
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub table_name: String,
    /// The row's key as JSON text (`12`, `[1,"a"]`).
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub object_key: String,
    /// How the row was named then.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub object_label: String,
    /// `create`, `change`, `delete`, `revert` or a bulk action's name.
    #[sea_orm(column_type = "String(StringLen::N(40))")]
    pub action: String,
    /// `{"field": [before, after]}` as JSON text; a created row has every
    /// `before` null, a deleted row every `after`.
    #[sea_orm(column_type = "Text")]
    pub changes: String,
    /// The entry that reverted this one, once reverted.
    pub reverted_by: Option<i64>,
    /// The delete that took this row with it (its rows referred to that
    /// one): reverting that entry restores this row too.
    pub cascade_of: Option<i64>,
    /// `{"field": [before, after]}` of the columns the admin never shows
    /// (password hashes): kept so a revert restores the row as it was,
    /// never rendered.
    #[sea_orm(column_type = "Text", nullable)]
    pub hidden_changes: Option<String>,
}

/// No relations: entries outlive their users and rows.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
