//! Model metadata: what REST, the admin and Socket.IO need to know about an
//! entity, read once from sea-orm's entity and column definitions —
//! columns, types, nullability, primary key, relations, string lengths,
//! enum values — plus what the app declares on top: fields that are hidden
//! (never sent: password hashes) or read-only (never written: ids, creation
//! times).
//!
//! ```
//! use phial_orm::meta::{FieldKind, ModelMeta};
//! # mod post {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "post")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i32,
//! #         #[sea_orm(column_type = "String(StringLen::N(200))")]
//! #         pub title: String,
//! #         pub secret: Option<String>,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! let meta = ModelMeta::of::<post::Entity>().hidden("secret");
//! assert_eq!(meta.table, "post");
//! assert_eq!(meta.primary_key, ["id"]);
//! let title = meta.field("title").unwrap();
//! assert_eq!(title.kind, FieldKind::String);
//! assert_eq!(title.max_length, Some(200));
//! assert!(meta.field("id").unwrap().read_only); // an auto-increment key
//! assert!(meta.field("secret").unwrap().hidden);
//! ```

pub mod bulk;
mod field;
pub mod json;
pub mod query;

use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ColumnTrait, EntityTrait, IdenStatic, Iterable, PrimaryKeyToColumn, PrimaryKeyTrait,
    RelationTrait, RelationType,
};

pub use field::{FieldKind, FieldMeta};

/// How a model points at another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// This model holds the foreign key (`post.author_id -> author.id`).
    BelongsTo,
    /// The other model holds a foreign key to this one, at most one row.
    HasOne,
    /// The other model holds a foreign key to this one.
    HasMany,
}

/// One relation of a model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RelationMeta {
    /// Which way the foreign key points.
    pub kind: RelationKind,
    /// The related table.
    pub table: String,
    /// Columns on this model's side.
    pub from: Vec<String>,
    /// Columns on the related table's side.
    pub to: Vec<String>,
}

/// What is known about one model (entity). Built with [`ModelMeta::of`];
/// cheap to clone.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelMeta {
    /// The table, as the database names it.
    pub table: String,
    /// Every column, in declaration order.
    pub fields: Vec<FieldMeta>,
    /// The primary key's columns.
    pub primary_key: Vec<String>,
    /// Relations declared on the entity.
    pub relations: Vec<RelationMeta>,
}

impl ModelMeta {
    /// Reads the entity's definitions. An auto-increment primary key is
    /// read-only; everything else is writable and visible until declared
    /// otherwise.
    pub fn of<E: EntityTrait>() -> Self {
        let primary_key: Vec<String> = E::PrimaryKey::iter()
            .map(|pk| pk.into_column().as_str().to_owned())
            .collect();
        let auto_increment = <E::PrimaryKey as PrimaryKeyTrait>::auto_increment();
        let fields = E::Column::iter()
            .map(|col| {
                let def = col.def();
                let name = col.as_str().to_owned();
                let in_key = primary_key.contains(&name);
                FieldMeta::from_column(
                    name,
                    def.get_column_type(),
                    def.is_null(),
                    def.is_unique() || (in_key && primary_key.len() == 1),
                    def.get_column_default().is_some() || (in_key && auto_increment),
                    in_key,
                    in_key && auto_increment,
                )
            })
            .collect();
        let relations = E::Relation::iter()
            .map(|rel| {
                let def = rel.def();
                let kind = match (def.rel_type, def.is_owner) {
                    (RelationType::HasOne, false) => RelationKind::BelongsTo,
                    (RelationType::HasOne, true) => RelationKind::HasOne,
                    (RelationType::HasMany, _) => RelationKind::HasMany,
                };
                let cols = |id: &sea_orm::Identity| id.iter().map(|c| c.to_string()).collect();
                RelationMeta {
                    kind,
                    table: def.to_tbl.sea_orm_table().to_string(),
                    from: cols(&def.from_col),
                    to: cols(&def.to_col),
                }
            })
            .collect();
        ModelMeta {
            table: E::default().table_name().to_owned(),
            fields,
            primary_key,
            relations,
        }
    }

    /// A field by column name.
    pub fn field(&self, name: &str) -> Option<&FieldMeta> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Marks fields as never sent to clients (password hashes, tokens);
    /// they are never written from a client either.
    ///
    /// # Panics
    /// When a name is not a column: a typo would otherwise leak the field.
    pub fn hidden(mut self, names: impl FieldNames) -> Self {
        for name in names.names() {
            self.field_mut(name, "hidden").hidden = true;
        }
        self
    }

    /// Marks fields as never written from a client (`created_at`); they
    /// are still sent.
    ///
    /// # Panics
    /// When a name is not a column.
    pub fn read_only(mut self, names: impl FieldNames) -> Self {
        for name in names.names() {
            self.field_mut(name, "read_only").read_only = true;
        }
        self
    }

    fn field_mut(&mut self, name: &str, what: &str) -> &mut FieldMeta {
        let table = self.table.clone();
        let known: Vec<String> = self.fields.iter().map(|f| f.name.clone()).collect();
        self.fields
            .iter_mut()
            .find(|f| f.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "{what}(\"{name}\"): `{table}` has no column `{name}`; its columns are {}",
                    known.join(", ")
                )
            })
    }

    /// The fields a client may write.
    pub fn writable(&self) -> impl Iterator<Item = &FieldMeta> {
        self.fields.iter().filter(|f| f.writable())
    }

    /// The fields sent to clients.
    pub fn visible(&self) -> impl Iterator<Item = &FieldMeta> {
        self.fields.iter().filter(|f| !f.hidden)
    }

    /// The relation whose foreign key is `column` on this model, if any.
    pub fn foreign_key(&self, column: &str) -> Option<&RelationMeta> {
        self.relations
            .iter()
            .find(|r| r.kind == RelationKind::BelongsTo && r.from.iter().any(|c| c == column))
    }
}

/// Column names given one at a time (`"secret"`) or several
/// (`["id", "created_at"]`).
pub trait FieldNames {
    /// The names.
    fn names(&self) -> Vec<&str>;
}

impl FieldNames for &str {
    fn names(&self) -> Vec<&str> {
        vec![self]
    }
}

impl<const N: usize> FieldNames for [&str; N] {
    fn names(&self) -> Vec<&str> {
        self.to_vec()
    }
}

impl FieldNames for &[&str] {
    fn names(&self) -> Vec<&str> {
        self.to_vec()
    }
}

/// The kind of a sea-orm column type, for callers that only have the type.
pub fn kind_of(column_type: &ColumnType) -> FieldKind {
    field::kind_of(column_type)
}
