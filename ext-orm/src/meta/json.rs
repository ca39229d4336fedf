//! Models to JSON and JSON to active models, field by field, from the
//! metadata: how REST and the admin read what clients send without
//! trusting it. Unknown fields are refused by name; read-only and hidden
//! fields are never written (no mass assignment); every bad field is
//! reported, not only the first.
//!
//! ```
//! use phial_orm::meta::{ModelMeta, json::{self, WriteMode}};
//! # mod note {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "note")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i32,
//! #         #[sea_orm(column_type = "String(StringLen::N(5))")]
//! #         pub title: String,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! let meta = ModelMeta::of::<note::Entity>();
//! let mut model = note::ActiveModel::default();
//! let body = serde_json::json!({"id": 9, "title": "far too long", "colour": "red"});
//! let errors = json::apply::<note::Entity>(&meta, &mut model, &body, WriteMode::Create)
//!     .unwrap_err();
//! let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
//! assert_eq!(fields, [("colour", "unknown"), ("title", "too_long")]); // `id` is ignored
//! ```
//!
//! One file: reading and writing JSON are mirror images over the same field
//! kinds, kept side by side so they cannot drift apart.

use base64::Engine as _;
use sea_orm::sea_query::{ColumnType, Value};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IdenStatic, Iterable, ModelTrait};
use serde_json::{Map, Value as Json};

use super::{FieldKind, FieldMeta, ModelMeta};

/// A field a client sent that cannot be stored, with a machine-readable
/// `code` and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field (`""` for the body as a whole).
    pub field: String,
    /// `unknown`, `required`, `null`, `type`, `too_long`, `not_allowed`,
    /// `out_of_range`, `format`.
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl FieldError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// How a body is applied to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// A new row: every required field must be there.
    Create,
    /// A whole row replaced (`PUT`): required fields must be there, and
    /// writable nullable fields left out become null.
    Replace,
    /// Some fields changed (`PATCH`): only those sent are touched.
    Patch,
}

/// A column value as JSON: dates as ISO 8601 text, bytes as base64,
/// numbers as numbers (a non-finite float as null).
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::ChronoDate(Some(d)) => d.format("%Y-%m-%d").to_string().into(),
        Value::ChronoTime(Some(t)) => t.format("%H:%M:%S%.f").to_string().into(),
        Value::ChronoDateTime(Some(d)) => d.format("%Y-%m-%dT%H:%M:%S%.f").to_string().into(),
        Value::ChronoDateTimeUtc(Some(d)) => d
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            .into(),
        Value::ChronoDateTimeLocal(Some(d)) => d.to_rfc3339().into(),
        Value::ChronoDateTimeWithTimeZone(Some(d)) => d.to_rfc3339().into(),
        Value::Bytes(Some(b)) => base64::engine::general_purpose::STANDARD.encode(b).into(),
        Value::Float(Some(f)) if !f.is_finite() => Json::Null,
        Value::Double(Some(f)) if !f.is_finite() => Json::Null,
        other => sea_orm::sea_query::sea_value_to_json_value(other),
    }
}

/// A model's visible fields as a JSON object, in column order.
pub fn to_json<E: EntityTrait>(meta: &ModelMeta, model: &E::Model) -> Map<String, Json> {
    let mut out = Map::new();
    for col in E::Column::iter() {
        let name = col.as_str();
        if meta.field(name).is_some_and(|f| !f.hidden) {
            out.insert(name.to_owned(), value_to_json(&model.get(col)));
        }
    }
    out
}

/// A model's visible fields written as a JSON object into `out`, in
/// column order: the same text as serialising [`to_json`]'s map would
/// give (keys in column order rather than sorted), without building it —
/// what a list of many rows is made of.
pub fn write_json<E: EntityTrait>(meta: &ModelMeta, model: &E::Model, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for col in E::Column::iter() {
        let name = col.as_str();
        if meta.field(name).is_none_or(|f| f.hidden) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, name);
        out.push(b':');
        let value = model.get(col);
        let _ = match &value {
            Value::Int(Some(n)) => serde_json::to_writer(&mut *out, n),
            Value::BigInt(Some(n)) => serde_json::to_writer(&mut *out, n),
            Value::SmallInt(Some(n)) => serde_json::to_writer(&mut *out, n),
            Value::Bool(Some(b)) => serde_json::to_writer(&mut *out, b),
            Value::String(Some(s)) => serde_json::to_writer(&mut *out, s),
            other => serde_json::to_writer(&mut *out, &value_to_json(other)),
        };
    }
    out.push(b'}');
}

/// The primary key of a model as JSON: the value, or an array of values
/// for a composite key (as in change-feed events).
pub fn key_of<E: EntityTrait>(meta: &ModelMeta, model: &E::Model) -> Json {
    let mut values: Vec<Json> = E::Column::iter()
        .filter(|c| meta.primary_key.iter().any(|k| k == c.as_str()))
        .map(|c| value_to_json(&model.get(c)))
        .collect();
    if values.len() == 1 {
        values.pop().unwrap_or(Json::Null)
    } else {
        Json::Array(values)
    }
}

/// Converts a client's JSON value for `field` into the column's value,
/// checking type, null, length, enum values and integer bounds.
pub fn json_to_value(
    field: &FieldMeta,
    column_type: &ColumnType,
    json: &Json,
) -> Result<Value, FieldError> {
    let name = field.name.as_str();
    let err = |code, message: String| FieldError::new(name, code, message);
    if json.is_null() {
        if !field.nullable {
            return Err(err("null", format!("`{name}` cannot be null")));
        }
        return Ok(null_of(column_type));
    }
    let expected = |what: &str| err("type", format!("`{name}` must be {what}"));
    Ok(match field.kind {
        FieldKind::Integer => {
            let n: i128 = match json {
                Json::Number(n) => n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
                    .ok_or_else(|| expected("a whole number"))?,
                _ => return Err(expected("a whole number")),
            };
            let (lo, hi) = field
                .int_range
                .unwrap_or((i64::MIN.into(), i64::MAX.into()));
            if n < lo || n > hi {
                return Err(err(
                    "out_of_range",
                    format!("`{name}` must be between {lo} and {hi}"),
                ));
            }
            int_value(column_type, n)
        }
        FieldKind::Number => {
            let f = json.as_f64().ok_or_else(|| expected("a number"))?;
            match column_type {
                ColumnType::Float => Value::Float(Some(f as f32)),
                _ => Value::Double(Some(f)),
            }
        }
        FieldKind::Boolean => Value::Bool(Some(
            json.as_bool().ok_or_else(|| expected("true or false"))?,
        )),
        FieldKind::String | FieldKind::Text | FieldKind::Enum => {
            let s = json.as_str().ok_or_else(|| expected("a string"))?;
            check_text(field, s)?;
            Value::String(Some(s.to_owned()))
        }
        FieldKind::Date => Value::ChronoDate(Some(parse(json, name, "a date, 2026-12-02")?)),
        FieldKind::Time => Value::ChronoTime(Some(parse(json, name, "a time, 13:45:00")?)),
        FieldKind::DateTime => Value::ChronoDateTime(Some(parse(
            json,
            name,
            "a date and time, 2026-12-02T13:45:00",
        )?)),
        FieldKind::DateTimeTz => {
            let at: sea_orm::prelude::DateTimeWithTimeZone = parse(
                json,
                name,
                "an RFC 3339 date and time, 2026-12-02T13:45:00Z",
            )?;
            Value::ChronoDateTimeUtc(Some(at.to_utc()))
        }
        FieldKind::Json => Value::Json(Some(Box::new(json.clone()))),
        FieldKind::Uuid => Value::Uuid(Some(parse(json, name, "a UUID")?)),
        FieldKind::Binary => {
            let s = json.as_str().ok_or_else(|| expected("base64 text"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| err("format", format!("`{name}` must be base64 text")))?;
            Value::Bytes(Some(bytes))
        }
        FieldKind::Other => {
            return Err(err("not_allowed", format!("`{name}` cannot be written")));
        }
    })
}

/// [`json_to_value`] taking the value, so text moves into the column's
/// value instead of being copied (many rows in a bulk write).
pub fn json_to_value_owned(
    field: &FieldMeta,
    column_type: &ColumnType,
    json: Json,
) -> Result<Value, FieldError> {
    match json {
        Json::String(s)
            if matches!(
                field.kind,
                FieldKind::String | FieldKind::Text | FieldKind::Enum
            ) =>
        {
            // A string for a text field: only its length and values to check.
            check_text(field, &s)?;
            Ok(Value::String(Some(s)))
        }
        other => json_to_value(field, column_type, &other),
    }
}

/// Length and enum checks of a text value.
fn check_text(field: &FieldMeta, s: &str) -> Result<(), FieldError> {
    let name = field.name.as_str();
    if let Some(max) = field.max_length {
        let chars = s.chars().count();
        if chars > max as usize {
            return Err(FieldError::new(
                name,
                "too_long",
                format!("`{name}` is {chars} characters long; at most {max} fit"),
            ));
        }
    }
    if let Some(values) = &field.enum_values
        && !values.iter().any(|v| v == s)
    {
        return Err(FieldError::new(
            name,
            "not_allowed",
            format!("`{name}` must be one of: {}", values.join(", ")),
        ));
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(json: &Json, name: &str, what: &str) -> Result<T, FieldError> {
    json.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| FieldError::new(name, "format", format!("`{name}` must be {what}")))
}

fn int_value(column_type: &ColumnType, n: i128) -> Value {
    // In range: checked against the column's bounds before.
    match column_type {
        ColumnType::TinyInteger => Value::TinyInt(i8::try_from(n).ok()),
        ColumnType::SmallInteger => Value::SmallInt(i16::try_from(n).ok()),
        ColumnType::Integer => Value::Int(i32::try_from(n).ok()),
        ColumnType::TinyUnsigned => Value::TinyUnsigned(u8::try_from(n).ok()),
        ColumnType::SmallUnsigned | ColumnType::Year => Value::SmallUnsigned(u16::try_from(n).ok()),
        ColumnType::Unsigned => Value::Unsigned(u32::try_from(n).ok()),
        ColumnType::BigUnsigned => Value::BigUnsigned(u64::try_from(n).ok()),
        _ => Value::BigInt(i64::try_from(n).ok()),
    }
}

fn null_of(column_type: &ColumnType) -> Value {
    match super::kind_of(column_type) {
        FieldKind::Integer => int_value(column_type, 0).as_null(),
        FieldKind::Number => match column_type {
            ColumnType::Float => Value::Float(None),
            _ => Value::Double(None),
        },
        FieldKind::Boolean => Value::Bool(None),
        FieldKind::Date => Value::ChronoDate(None),
        FieldKind::Time => Value::ChronoTime(None),
        FieldKind::DateTime => Value::ChronoDateTime(None),
        FieldKind::DateTimeTz => Value::ChronoDateTimeUtc(None),
        FieldKind::Json => Value::Json(None),
        FieldKind::Uuid => Value::Uuid(None),
        FieldKind::Binary => Value::Bytes(None),
        _ => Value::String(None),
    }
}

/// Other shapes of the same value, for a model whose Rust field type is
/// not the one its column type suggests (an `i64` on an `Integer` column,
/// a `DateTime<FixedOffset>` on a zoned timestamp).
fn alternatives(value: &Value) -> Vec<Value> {
    let int = |n: Option<i128>| {
        vec![
            Value::BigInt(n.and_then(|n| i64::try_from(n).ok())),
            Value::Int(n.and_then(|n| i32::try_from(n).ok())),
            Value::SmallInt(n.and_then(|n| i16::try_from(n).ok())),
            Value::TinyInt(n.and_then(|n| i8::try_from(n).ok())),
            Value::BigUnsigned(n.and_then(|n| u64::try_from(n).ok())),
            Value::Unsigned(n.and_then(|n| u32::try_from(n).ok())),
            Value::SmallUnsigned(n.and_then(|n| u16::try_from(n).ok())),
            Value::TinyUnsigned(n.and_then(|n| u8::try_from(n).ok())),
        ]
    };
    match value {
        Value::TinyInt(n) => int(n.map(i128::from)),
        Value::SmallInt(n) => int(n.map(i128::from)),
        Value::Int(n) => int(n.map(i128::from)),
        Value::BigInt(n) => int(n.map(i128::from)),
        Value::TinyUnsigned(n) => int(n.map(i128::from)),
        Value::SmallUnsigned(n) => int(n.map(i128::from)),
        Value::Unsigned(n) => int(n.map(i128::from)),
        Value::BigUnsigned(n) => int(n.map(i128::from)),
        Value::Float(f) => vec![Value::Double(f.map(f64::from))],
        Value::Double(f) => vec![Value::Float(f.map(|f| f as f32))],
        Value::ChronoDateTimeUtc(d) => vec![
            Value::ChronoDateTimeWithTimeZone(d.map(|d| d.fixed_offset())),
            Value::ChronoDateTime(d.map(|d| d.naive_utc())),
        ],
        _ => Vec::new(),
    }
}

/// Sets one column from a value, trying the value's other shapes when the
/// model's Rust type differs from what the column type suggests.
pub fn set_column<E: EntityTrait>(
    model: &mut E::ActiveModel,
    column: E::Column,
    value: Value,
) -> Result<(), FieldError>
where
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    // Numbers and dates are cheap to keep for a retry; text is not, and
    // has no other shape.
    let retry = (!matches!(value, Value::String(_) | Value::Bytes(_) | Value::Json(_)))
        .then(|| value.clone());
    let first = match model.try_set(column, value) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    for alt in retry.iter().flat_map(alternatives) {
        if model.try_set(column, alt).is_ok() {
            return Ok(());
        }
    }
    tracing::error!(
        column = column.as_str(),
        "the model's field type does not take this column's values: {first}"
    );
    Err(FieldError::new(
        column.as_str(),
        "type",
        format!(
            "`{}` cannot be stored (the model's type for it does not match its column)",
            column.as_str()
        ),
    ))
}

/// The writable columns of a model with their SQL types, worked out once
/// for many rows (a bulk create) instead of once per row.
pub struct Plan<'m, E: EntityTrait> {
    pub(crate) meta: &'m ModelMeta,
    pub(crate) columns: Vec<(E::Column, &'m FieldMeta, ColumnType)>,
}

impl<'m, E: EntityTrait> Plan<'m, E> {
    /// The plan for `meta`'s entity.
    pub fn new(meta: &'m ModelMeta) -> Self {
        let columns = E::Column::iter()
            .filter_map(|column| {
                let field = meta.field(column.as_str())?;
                field
                    .writable()
                    .then(|| (column, field, column.def().get_column_type().clone()))
            })
            .collect();
        Plan { meta, columns }
    }
}

/// Applies a client's JSON object to `model` (see [`WriteMode`]): unknown
/// fields are refused, read-only and hidden ones skipped, every bad field
/// reported.
pub fn apply<E: EntityTrait>(
    meta: &ModelMeta,
    model: &mut E::ActiveModel,
    body: &Json,
    mode: WriteMode,
) -> Result<(), Vec<FieldError>>
where
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    apply_with(&Plan::<E>::new(meta), model, body, mode)
}

/// [`apply`] with a plan made once for many rows.
pub fn apply_with<E: EntityTrait>(
    plan: &Plan<'_, E>,
    model: &mut E::ActiveModel,
    body: &Json,
    mode: WriteMode,
) -> Result<(), Vec<FieldError>>
where
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    let meta = plan.meta;
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "type",
            "the body must be a JSON object of fields",
        )]);
    };
    let mut errors = Vec::new();
    for key in object.keys() {
        if meta.field(key).is_none() {
            errors.push(FieldError::new(
                key.as_str(),
                "unknown",
                format!(
                    "`{key}` is not a field of `{}`; its fields are {}",
                    meta.table,
                    meta.writable()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for (column, field, column_type) in &plan.columns {
        let (column, field) = (*column, *field);
        let value = match object.get(&field.name) {
            Some(json) => match json_to_value(field, column_type, json) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
            None if mode != WriteMode::Patch && field.required() => {
                errors.push(FieldError::new(
                    field.name.as_str(),
                    "required",
                    format!("`{}` is required", field.name),
                ));
                continue;
            }
            None if mode == WriteMode::Replace && field.nullable => null_of(column_type),
            None => continue,
        };
        if let Err(e) = set_column::<E>(model, column, value) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        Err(errors)
    }
}
