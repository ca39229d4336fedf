//! The query layer's smallest pieces: a column by name, a case-blind
//! "contains" that escapes `LIKE`'s wildcards, and a filter value checked
//! against its field the way a written value is.
//!
//! ```
//! use phial_orm::query;
//! assert_eq!(query::like_pattern("50%_off"), "%50\\%\\_off%");
//! ```

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr, Value};
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable};
use serde_json::Value as Json;

use crate::meta::FieldMeta;
use crate::meta::json::{FieldError, json_to_value};

/// The column named `name`, found among the entity's own columns.
pub fn column<E: EntityTrait>(name: &str) -> Option<E::Column> {
    E::Column::iter().find(|c| c.as_str() == name)
}

/// A `LIKE` pattern matching text that contains `raw` (lower-cased), its
/// `%`, `_` and `\` escaped with `\`.
pub fn like_pattern(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len() + 2);
    escaped.push('%');
    for c in raw.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// `col` contains `raw`, ignoring case, on every backend.
pub fn contains<E: EntityTrait>(col: E::Column, raw: &str) -> SimpleExpr {
    Expr::expr(Func::lower(col.into_expr())).like(LikeExpr::new(like_pattern(raw)).escape('\\'))
}

/// A value to compare `field` with: checked for type like a written value,
/// but not for length or enum values (a filter compares, it stores nothing).
pub fn compare_value<E: EntityTrait>(
    field: &FieldMeta,
    json: &Json,
) -> Result<(E::Column, Value), FieldError> {
    let col = column::<E>(&field.name).ok_or_else(|| {
        FieldError::new(
            field.name.as_str(),
            "unknown",
            format!("unknown field `{}`", field.name),
        )
    })?;
    let column_type = col.def().get_column_type().clone();
    let mut loose = field.clone();
    loose.max_length = None;
    loose.enum_values = None;
    let value = json_to_value(&loose, &column_type, json)?;
    Ok((col, value))
}
