//! Many rows read straight from a JSON array into active models, checked
//! as [`json::apply`](super::json::apply) checks one: no `serde_json::Value`
//! tree in between, keys matched to columns as they are read, text moved
//! into the models. What a bulk create of a hundred thousand rows spends
//! its time on otherwise.
//!
//! ```
//! use phial_orm::meta::{ModelMeta, bulk, json::Plan};
//! # mod note {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "note")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i32,
//! #         pub title: String,
//! #         pub body: Option<String>,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! let meta = ModelMeta::of::<note::Entity>();
//! let plan = Plan::<note::Entity>::new(&meta);
//! let rows = br#"[{"title": "a", "body": "x"}, {"title": "b"}, {"tilte": "c"}]"#;
//! let read = bulk::read_rows(&plan, rows, 100).unwrap();
//! assert_eq!(read.models.len(), 2); // the third row is refused
//! let errors: Vec<_> = read.errors.iter().map(|(i, e)| (*i, e.field.as_str(), e.code)).collect();
//! assert_eq!(errors, [(2, "tilte", "unknown"), (2, "title", "required")]);
//! ```

use std::fmt;

use sea_orm::{ActiveModelTrait, EntityTrait};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

use super::json::{FieldError, Plan, json_to_value_owned, set_column};

/// The rows read: the models of the rows that passed, and every error of
/// the others with its row's index (from 0).
pub struct Rows<E: EntityTrait> {
    /// One model per row that passed, in order.
    pub models: Vec<E::ActiveModel>,
    /// `(row index, error)` for the rows that did not.
    pub errors: Vec<(usize, FieldError)>,
}

/// Why a body could not be read as rows at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkError {
    /// Not JSON, not an array, or a row that is not an object.
    Shape(String),
    /// More rows than the limit (counted as they are read).
    TooMany {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for BulkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BulkError::Shape(m) => f.write_str(m),
            BulkError::TooMany { limit } => write!(f, "more than {limit} rows"),
        }
    }
}

const TOO_MANY: &str = "phial: too many rows";

/// Reads a JSON array of row objects (see the module docs). Every row sets
/// the same columns, as one multi-row insert needs: a nullable column some
/// rows leave out is null in them; a column with a default some rows give
/// and others do not is an error on the rows without it.
pub fn read_rows<E>(plan: &Plan<'_, E>, bytes: &[u8], limit: usize) -> Result<Rows<E>, BulkError>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    // Columns seen are kept as bits of a u128.
    if plan.columns.len() > 128 {
        return Err(BulkError::Shape(format!(
            "`{}` has {} writable columns; bulk writes take at most 128",
            plan.meta.table,
            plan.columns.len()
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = RowsSeed { plan, limit }
        .deserialize(&mut de)
        .and_then(|r| de.end().map(|()| r));
    let (mut models, mut errors) = match read {
        Ok(r) => r,
        Err(e) if e.to_string().starts_with(TOO_MANY) => return Err(BulkError::TooMany { limit }),
        Err(e) => {
            return Err(BulkError::Shape(format!(
                "the body is not a JSON array of row objects: {e}"
            )));
        }
    };
    // Columns some rows gave: the others must give them too, or null.
    let given = models.iter().fold(0u128, |acc, (_, seen, _)| acc | seen);
    let mut out = Vec::with_capacity(models.len());
    for (index, (mut model, seen, ok)) in models.drain(..).enumerate() {
        let mut ok = ok;
        let missing = given & !seen;
        for (i, (column, field, column_type)) in plan.columns.iter().enumerate() {
            if missing & (1 << i) == 0 || field.required() {
                continue;
            }
            if field.nullable {
                let null = json_to_value_owned(field, column_type, Json::Null);
                if let Ok(v) = null
                    && set_column::<E>(&mut model, *column, v).is_ok()
                {
                    continue;
                }
            }
            ok = false;
            errors.push((
                index,
                FieldError::new(
                    field.name.as_str(),
                    "required",
                    format!(
                        "`{}` is given in other rows: give it in every row or in none",
                        field.name
                    ),
                ),
            ));
        }
        if ok {
            out.push(model);
        }
    }
    errors.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.field.cmp(&b.1.field)));
    Ok(Rows {
        models: out,
        errors,
    })
}

/// `(model, columns seen as a bit set, whether the row passed)`.
type Row<E> = (<E as EntityTrait>::ActiveModel, u128, bool);

struct RowsSeed<'a, 'm, E: EntityTrait> {
    plan: &'a Plan<'m, E>,
    limit: usize,
}

impl<'de, E> DeserializeSeed<'de> for RowsSeed<'_, '_, E>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    type Value = (Vec<Row<E>>, Vec<(usize, FieldError)>);

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de, E> Visitor<'de> for RowsSeed<'_, '_, E>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    type Value = (Vec<Row<E>>, Vec<(usize, FieldError)>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of row objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.limit));
        let mut errors = Vec::new();
        while let Some((model, seen, row_errors)) =
            seq.next_element_seed(RowSeed { plan: self.plan })?
        {
            let index = rows.len();
            if index >= self.limit {
                return Err(serde::de::Error::custom(TOO_MANY));
            }
            let ok = row_errors.is_empty();
            errors.extend(row_errors.into_iter().map(|e| (index, e)));
            rows.push((model, seen, ok));
        }
        Ok((rows, errors))
    }
}

struct RowSeed<'a, 'm, E: EntityTrait> {
    plan: &'a Plan<'m, E>,
}

impl<'de, E> DeserializeSeed<'de> for RowSeed<'_, '_, E>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    type Value = (E::ActiveModel, u128, Vec<FieldError>);

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

/// A key: one of the plan's columns, a known field that is not written
/// (skipped), or unknown.
enum Key {
    Column(usize),
    Skip,
    Unknown(String),
}

struct KeySeed<'a, 'm, E: EntityTrait> {
    plan: &'a Plan<'m, E>,
}

impl<'de, E: EntityTrait> DeserializeSeed<'de> for KeySeed<'_, '_, E> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Key, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de, E: EntityTrait> Visitor<'de> for KeySeed<'_, '_, E> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<Er: serde::de::Error>(self, key: &str) -> Result<Key, Er> {
        if let Some(i) = self.plan.columns.iter().position(|(_, f, _)| f.name == key) {
            return Ok(Key::Column(i));
        }
        Ok(if self.plan.meta.field(key).is_some() {
            Key::Skip
        } else {
            Key::Unknown(key.to_owned())
        })
    }
}

impl<'de, E> Visitor<'de> for RowSeed<'_, '_, E>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    type Value = (E::ActiveModel, u128, Vec<FieldError>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let plan = self.plan;
        let mut model = <E::ActiveModel as ActiveModelTrait>::default();
        let mut seen = 0u128;
        let mut errors = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed { plan })? {
            match key {
                Key::Column(i) => {
                    let json: Json = map.next_value()?;
                    seen |= 1 << i;
                    let (column, field, column_type) = &plan.columns[i];
                    match json_to_value_owned(field, column_type, json)
                        .and_then(|v| set_column::<E>(&mut model, *column, v))
                    {
                        Ok(()) => {}
                        Err(e) => errors.push(e),
                    }
                }
                Key::Skip => {
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Unknown(name) => {
                    map.next_value::<IgnoredAny>()?;
                    let fields: Vec<&str> = plan
                        .columns
                        .iter()
                        .map(|(_, f, _)| f.name.as_str())
                        .collect();
                    errors.push(FieldError::new(
                        name.as_str(),
                        "unknown",
                        format!(
                            "`{name}` is not a field of `{}`; its fields are {}",
                            plan.meta.table,
                            fields.join(", ")
                        ),
                    ));
                }
            }
        }
        for (i, (_, field, _)) in plan.columns.iter().enumerate() {
            if seen & (1 << i) == 0 && field.required() {
                errors.push(FieldError::new(
                    field.name.as_str(),
                    "required",
                    format!("`{}` is required", field.name),
                ));
            }
        }
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        Ok((model, seen, errors))
    }
}
