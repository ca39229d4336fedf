//! The parameters of a list (paging, sorting, search and every filter of
//! the one grammar) and of a row (its key, the ETag headers).

use phial_orm::meta::FieldKind;
use phial_orm::query::{MAX_PAGE, Op, RESERVED};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{Schema, Type};
use utoipa::openapi::{RefOr, Required};

use super::schemas::{field_schema, typed};
use crate::resource::Shared;

/// One parameter: required when it is in the path.
pub(super) fn param(
    name: &str,
    location: ParameterIn,
    schema: impl Into<RefOr<Schema>>,
    description: &str,
) -> Parameter {
    let required = if matches!(location, ParameterIn::Path) {
        Required::True
    } else {
        Required::False
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(required)
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

/// A header carrying an entity tag.
pub(super) fn etag_header(name: &str, what: &str) -> Parameter {
    param(name, ParameterIn::Header, typed(Type::String), what)
}

/// Every parameter a list takes.
pub(super) fn list_parameters(s: &Shared) -> Vec<Parameter> {
    let rules = &s.rules;
    let names = |list: &[String]| list.join("|");
    let query = ParameterIn::Query;
    let mut params = vec![
        param(
            "page",
            query.clone(),
            typed(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_PAGE)),
            "page number, from 1",
        ),
        param(
            "per_page",
            query.clone(),
            typed(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(rules.max_per_page)),
            &format!("rows per page (default {})", rules.per_page),
        ),
        param(
            "cursor",
            query.clone(),
            typed(Type::String),
            "`next_cursor` of the previous page (empty: the first page); not with `page`",
        ),
        param(
            "sort",
            query.clone(),
            typed(Type::String).pattern(Some(format!(
                "^(-?({0})(,-?({0}))*)?$",
                names(&rules.sortable)
            ))),
            &format!(
                "comma-separated fields, `-` for descending: {}",
                rules.sortable.join(", ")
            ),
        ),
    ];
    if !rules.searchable.is_empty() {
        params.push(param(
            "q",
            query.clone(),
            typed(Type::String),
            &format!(
                "text in any of: {} (ignoring case)",
                rules.searchable.join(", ")
            ),
        ));
    }
    for name in &rules.filterable {
        let Some(field) = s.meta.field(name) else {
            continue;
        };
        // A filter compares; it stores nothing: no length or null limits.
        let mut loose = field.clone();
        loose.nullable = false;
        loose.max_length = None;
        let value = field_schema(&loose);
        let text = matches!(
            field.kind,
            FieldKind::String | FieldKind::Text | FieldKind::Enum
        );
        params.push(param(
            name,
            query.clone(),
            value.clone(),
            &format!("`{name}` equals"),
        ));
        for (op, _) in Op::ALL {
            let schema: RefOr<Schema> = match op {
                "contains" if !text => continue,
                "contains" => typed(Type::String).into(),
                "in" if text => typed(Type::String).into(),
                "in" => match in_pattern(field.kind) {
                    Some(pattern) => typed(Type::String).pattern(Some(pattern)).into(),
                    None => continue,
                },
                "is_null" => typed(Type::Boolean).into(),
                _ => value.clone(),
            };
            params.push(param(
                &format!("{name}__{op}"),
                query.clone(),
                schema,
                &format!("`{name}` {op}"),
            ));
        }
    }
    debug_assert!(
        RESERVED
            .iter()
            .all(|r| params.iter().any(|p| p.name == *r) || *r == "q")
    );
    params
}

/// What a comma-separated `__in` list of numbers or booleans looks like;
/// other kinds (dates, UUIDs) have no `__in` filter.
fn in_pattern(kind: FieldKind) -> Option<&'static str> {
    Some(match kind {
        FieldKind::Integer => r"^-?\d{1,18}(,-?\d{1,18})*$",
        FieldKind::Boolean => "^(true|false)(,(true|false))*$",
        _ => return None,
    })
}
