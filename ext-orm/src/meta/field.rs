//! One column's metadata and the kinds of values it holds.

use sea_orm::sea_query::{ColumnType, StringLen};

/// The kind of value a field holds, as clients see it (JSON) — coarser
/// than SQL types: every integer width is `Integer` with its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A whole number (see [`FieldMeta::int_range`]).
    Integer,
    /// A floating-point or decimal number.
    Number,
    /// `true` / `false`.
    Boolean,
    /// A short string (`VARCHAR`, `CHAR`).
    String,
    /// Long text.
    Text,
    /// One of [`FieldMeta::enum_values`].
    Enum,
    /// A calendar date, `2026-12-02`.
    Date,
    /// A time of day, `13:45:00`.
    Time,
    /// A date and time without zone, `2026-12-02T13:45:00`.
    DateTime,
    /// An instant with a zone, RFC 3339: `2026-12-02T13:45:00Z`.
    DateTimeTz,
    /// Any JSON value.
    Json,
    /// A UUID.
    Uuid,
    /// Bytes (sent as base64 text).
    Binary,
    /// A type the JSON mapping does not cover (arrays, network types, ...):
    /// sent as sea-orm renders it, never written from a client.
    Other,
}

/// What is known about one column.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldMeta {
    /// The column name (also the JSON key).
    pub name: String,
    /// The kind of value.
    pub kind: FieldKind,
    /// The SQL type, as sea-orm names it (`Integer`, `String(N(200))`).
    pub sql_type: String,
    /// Whether it may be null.
    pub nullable: bool,
    /// Whether its values are unique (a unique column or a one-column key).
    pub unique: bool,
    /// Whether the database fills it when a row is created without it
    /// (a default or an auto-increment key).
    pub has_default: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// An auto-increment key.
    pub auto_increment: bool,
    /// Longest string (in characters), when the column limits it.
    pub max_length: Option<u32>,
    /// Allowed values of an enum column, as stored.
    pub enum_values: Option<Vec<String>>,
    /// Bounds of an integer column's type.
    pub int_range: Option<(i128, i128)>,
    /// Never written from a client.
    pub read_only: bool,
    /// Never sent to a client (and never written from one).
    pub hidden: bool,
}

impl FieldMeta {
    pub(crate) fn from_column(
        name: String,
        column_type: &ColumnType,
        nullable: bool,
        unique: bool,
        has_default: bool,
        primary_key: bool,
        auto_increment: bool,
    ) -> Self {
        let kind = kind_of(column_type);
        let max_length = match column_type {
            ColumnType::String(StringLen::N(n)) => Some(*n),
            ColumnType::Char(Some(n)) => Some(*n),
            _ => None,
        };
        let enum_values = match column_type {
            ColumnType::Enum { variants, .. } => {
                Some(variants.iter().map(|v| v.to_string()).collect())
            }
            _ => None,
        };
        FieldMeta {
            name,
            kind,
            sql_type: format!("{column_type:?}"),
            nullable,
            unique,
            has_default,
            primary_key,
            auto_increment,
            max_length,
            enum_values,
            int_range: int_range(column_type),
            read_only: auto_increment || kind == FieldKind::Other,
            hidden: false,
        }
    }

    /// Whether a client may write it.
    pub fn writable(&self) -> bool {
        !self.read_only && !self.hidden
    }

    /// Whether a create must give it: not null, no default, writable.
    pub fn required(&self) -> bool {
        !self.nullable && !self.has_default && self.writable()
    }
}

pub(crate) fn kind_of(column_type: &ColumnType) -> FieldKind {
    match column_type {
        ColumnType::TinyInteger
        | ColumnType::SmallInteger
        | ColumnType::Integer
        | ColumnType::BigInteger
        | ColumnType::TinyUnsigned
        | ColumnType::SmallUnsigned
        | ColumnType::Unsigned
        | ColumnType::BigUnsigned
        | ColumnType::Year => FieldKind::Integer,
        ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) | ColumnType::Money(_) => {
            FieldKind::Number
        }
        ColumnType::Boolean => FieldKind::Boolean,
        ColumnType::Char(_) | ColumnType::String(_) => FieldKind::String,
        ColumnType::Text => FieldKind::Text,
        ColumnType::Enum { .. } => FieldKind::Enum,
        ColumnType::Date => FieldKind::Date,
        ColumnType::Time => FieldKind::Time,
        ColumnType::DateTime | ColumnType::Timestamp => FieldKind::DateTime,
        ColumnType::TimestampWithTimeZone => FieldKind::DateTimeTz,
        ColumnType::Json | ColumnType::JsonBinary => FieldKind::Json,
        ColumnType::Uuid => FieldKind::Uuid,
        ColumnType::Blob | ColumnType::Binary(_) | ColumnType::VarBinary(_) => FieldKind::Binary,
        _ => FieldKind::Other,
    }
}

fn int_range(column_type: &ColumnType) -> Option<(i128, i128)> {
    Some(match column_type {
        ColumnType::TinyInteger => (i8::MIN.into(), i8::MAX.into()),
        ColumnType::SmallInteger => (i16::MIN.into(), i16::MAX.into()),
        ColumnType::Integer => (i32::MIN.into(), i32::MAX.into()),
        ColumnType::BigInteger => (i64::MIN.into(), i64::MAX.into()),
        ColumnType::TinyUnsigned => (0, u8::MAX.into()),
        ColumnType::SmallUnsigned => (0, u16::MAX.into()),
        ColumnType::Unsigned => (0, u32::MAX.into()),
        ColumnType::BigUnsigned => (0, u64::MAX.into()),
        ColumnType::Year => (0, 9999),
        _ => return None,
    })
}
