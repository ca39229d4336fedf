//! A list's query string: pages (`page`, `per_page`) or a cursor
//! (`cursor`), sort (`sort=-created_at,title`), filters (`title=Hello`,
//! `rank__ge=3`, `id__in=1,2`, `body__is_null=true`) and search (`q`),
//! every name checked against the resource's allow-lists before it is
//! mapped to a column: nothing a client sends reaches SQL as an
//! identifier.

use base64::Engine as _;
use phial_orm::meta::query;
use phial_orm::meta::{FieldKind, FieldMeta, ModelMeta};
use sea_orm::sea_query::{Expr, Order};
use sea_orm::{ColumnTrait, Condition, EntityTrait, Value};
use serde_json::Value as Json;

use crate::problem::Problem;

/// Query parameters that are not filters.
pub(crate) const RESERVED: [&str; 5] = ["page", "per_page", "cursor", "sort", "q"];

/// The highest page number (so an offset always fits the database).
pub(crate) const MAX_PAGE: u64 = 1_000_000_000;

/// Filter operators, as `field__op=value`.
pub(crate) const OPERATORS: [&str; 9] = [
    "eq", "ne", "lt", "le", "gt", "ge", "contains", "in", "is_null",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    In,
    IsNull,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "contains" => Op::Contains,
            "in" => Op::In,
            "is_null" => Op::IsNull,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) field: String,
    pub(crate) op: Op,
    pub(crate) raw: String,
}

/// What a resource allows a list to use.
#[derive(Debug, Clone)]
pub(crate) struct ListRules {
    pub(crate) filterable: Vec<String>,
    pub(crate) sortable: Vec<String>,
    pub(crate) searchable: Vec<String>,
    pub(crate) per_page: u64,
    pub(crate) max_per_page: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    pub(crate) page: Option<u64>,
    pub(crate) per_page: u64,
    /// Values of the sort keys (the primary key last) of the row before.
    pub(crate) cursor: Option<Vec<Json>>,
    /// Sort keys, the primary key always last.
    pub(crate) sort: Vec<(String, Order)>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) q: Option<String>,
    /// The query's pairs, to build links.
    pub(crate) pairs: Vec<(String, String)>,
}

fn listing(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

pub(crate) fn parse(
    query: &str,
    meta: &ModelMeta,
    rules: &ListRules,
) -> Result<ListQuery, Problem> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut out = ListQuery {
        page: None,
        per_page: rules.per_page,
        cursor: None,
        sort: Vec::new(),
        filters: Vec::new(),
        q: None,
        pairs: pairs.clone(),
    };
    let number = |key: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| Problem::bad_request(format!("`{key}` must be a whole number, not `{v}`")))
    };
    let mut seen = std::collections::HashSet::new();
    for (key, value) in &pairs {
        if RESERVED.contains(&key.as_str()) && !seen.insert(key.clone()) {
            return Err(Problem::bad_request(format!("`{key}` is given twice")));
        }
        match key.as_str() {
            "page" => {
                let page = number(key, value)?;
                if page == 0 {
                    return Err(Problem::bad_request("`page` counts from 1"));
                }
                if page > MAX_PAGE {
                    return Err(Problem::bad_request(format!(
                        "`page` goes up to {MAX_PAGE}: use `cursor` to walk further"
                    )));
                }
                out.page = Some(page);
            }
            "per_page" => {
                let n = number(key, value)?;
                if n == 0 || n > rules.max_per_page {
                    return Err(Problem::bad_request(format!(
                        "`per_page` must be between 1 and {}",
                        rules.max_per_page
                    )));
                }
                out.per_page = n;
            }
            "cursor" => {
                if !value.is_empty() {
                    out.cursor = Some(decode_cursor(value)?);
                }
            }
            "sort" => {
                for part in value.split(',').filter(|p| !p.is_empty()) {
                    let (name, order) = match part.strip_prefix('-') {
                        Some(name) => (name, Order::Desc),
                        None => (part.strip_prefix('+').unwrap_or(part), Order::Asc),
                    };
                    if !rules.sortable.iter().any(|s| s == name) {
                        return Err(Problem::bad_request(format!(
                            "cannot sort on `{name}`; sortable fields: {}",
                            listing(&rules.sortable)
                        )));
                    }
                    // A field named again adds nothing: the first wins.
                    if !out.sort.iter().any(|(n, _)| n == name) {
                        out.sort.push((name.to_owned(), order));
                    }
                }
            }
            "q" => {
                if rules.searchable.is_empty() {
                    return Err(Problem::bad_request("this resource has no search (`q`)"));
                }
                out.q = Some(value.clone());
            }
            _ => {
                let (field, op) = match key.rsplit_once("__") {
                    Some((field, op)) => match Op::parse(op) {
                        Some(op) => (field, op),
                        None => {
                            return Err(Problem::bad_request(format!(
                                "unknown filter operator `{op}` in `{key}`; operators: {}",
                                OPERATORS.join(", ")
                            )));
                        }
                    },
                    None => (key.as_str(), Op::Eq),
                };
                if !rules.filterable.iter().any(|f| f == field) {
                    let what = if meta.field(field).is_some_and(|f| !f.hidden) {
                        format!("`{field}` is not filterable")
                    } else {
                        format!("unknown query parameter `{key}`")
                    };
                    return Err(Problem::bad_request(format!(
                        "{what}; filterable fields: {}; other parameters: {}",
                        listing(&rules.filterable),
                        RESERVED.join(", ")
                    )));
                }
                out.filters.push(Filter {
                    field: field.to_owned(),
                    op,
                    raw: value.clone(),
                });
            }
        }
    }
    if out.page.is_some() && out.cursor.is_some() {
        return Err(Problem::bad_request("give `page` or `cursor`, not both"));
    }
    for key in &meta.primary_key {
        if !out.sort.iter().any(|(n, _)| n == key) {
            out.sort.push((key.clone(), Order::Asc));
        }
    }
    if let Some(cursor) = &out.cursor {
        if cursor.len() != out.sort.len() {
            return Err(Problem::bad_request(
                "`cursor` does not belong to this sort: keep `sort` as it was when the cursor was given",
            ));
        }
        if let Some((name, _)) = out
            .sort
            .iter()
            .find(|(n, _)| meta.field(n).is_some_and(|f| f.nullable))
        {
            return Err(Problem::bad_request(format!(
                "cursor pages cannot sort on `{name}`, which may be null: use `page`"
            )));
        }
    }
    Ok(out)
}

pub(crate) fn encode_cursor(values: &[Json]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Json::Array(values.to_vec()).to_string())
}

fn decode_cursor(s: &str) -> Result<Vec<Json>, Problem> {
    let bad = || Problem::bad_request("`cursor` is not one this API gave out");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| bad())?;
    match serde_json::from_slice(&bytes) {
        Ok(Json::Array(values)) => Ok(values),
        _ => Err(bad()),
    }
}

/// The column named `name`, found among the entity's own columns.
pub(crate) fn column<E: EntityTrait>(name: &str) -> Option<E::Column> {
    query::column::<E>(name)
}

/// A query-string value as the JSON a field's kind expects.
fn typed(field: &FieldMeta, raw: &str) -> Result<Json, Problem> {
    let bad =
        |what: &str| Problem::bad_request(format!("`{}` must be {what}, not `{raw}`", field.name));
    Ok(match field.kind {
        FieldKind::Integer => Json::from(raw.parse::<i64>().map_err(|_| bad("a whole number"))?),
        FieldKind::Number => {
            let f = raw.parse::<f64>().map_err(|_| bad("a number"))?;
            serde_json::Number::from_f64(f)
                .map(Json::Number)
                .ok_or_else(|| bad("a number"))?
        }
        FieldKind::Boolean => Json::Bool(parse_bool(raw).ok_or_else(|| bad("true or false"))?),
        _ => Json::String(raw.to_owned()),
    })
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A filter or cursor value for `field`, checked like a written value.
pub(crate) fn value_for<E: EntityTrait>(
    field: &FieldMeta,
    json: &Json,
) -> Result<(E::Column, Value), Problem> {
    query::compare_value::<E>(field, json).map_err(|e| Problem::bad_request(e.message))
}

/// `field` contains `raw`, ignoring case.
fn contains_expr<E: EntityTrait>(col: E::Column, raw: &str) -> Expr {
    Expr::expr(query::contains::<E>(col, raw))
}

/// The filters and search as one condition.
pub(crate) fn condition<E: EntityTrait>(
    meta: &ModelMeta,
    query: &ListQuery,
    rules: &ListRules,
) -> Result<Condition, Problem> {
    let mut cond = Condition::all();
    for filter in &query.filters {
        let field = meta
            .field(&filter.field)
            .ok_or_else(|| Problem::bad_request(format!("unknown field `{}`", filter.field)))?;
        let expr = match filter.op {
            Op::IsNull => {
                let col = column::<E>(&field.name).ok_or_else(|| {
                    Problem::bad_request(format!("unknown field `{}`", field.name))
                })?;
                match parse_bool(&filter.raw) {
                    Some(true) => col.is_null(),
                    Some(false) => col.is_not_null(),
                    None => {
                        return Err(Problem::bad_request(format!(
                            "`{}__is_null` must be true or false",
                            field.name
                        )));
                    }
                }
            }
            Op::Contains => {
                if !matches!(
                    field.kind,
                    FieldKind::String | FieldKind::Text | FieldKind::Enum
                ) {
                    return Err(Problem::bad_request(format!(
                        "`contains` works on text; `{}` is not text",
                        field.name
                    )));
                }
                let col = column::<E>(&field.name).ok_or_else(|| {
                    Problem::bad_request(format!("unknown field `{}`", field.name))
                })?;
                contains_expr::<E>(col, &filter.raw)
            }
            Op::In => {
                let mut values = Vec::new();
                let mut col = None;
                for part in filter.raw.split(',') {
                    let (c, v) = value_for::<E>(field, &typed(field, part)?)?;
                    col = Some(c);
                    values.push(v);
                }
                match col {
                    Some(c) => c.is_in(values),
                    None => continue,
                }
            }
            op => {
                let (col, v) = value_for::<E>(field, &typed(field, &filter.raw)?)?;
                match op {
                    Op::Eq => col.eq(v),
                    Op::Ne => col.ne(v),
                    Op::Lt => col.lt(v),
                    Op::Le => col.lte(v),
                    Op::Gt => col.gt(v),
                    _ => col.gte(v),
                }
            }
        };
        cond = cond.add(expr);
    }
    if let Some(q) = &query.q {
        let mut any = Condition::any();
        for name in &rules.searchable {
            if let Some(col) = column::<E>(name) {
                any = any.add(contains_expr::<E>(col, q));
            }
        }
        cond = cond.add(any);
    }
    Ok(cond)
}

/// Rows after the cursor, in sort order: for keys k1..kn, the rows where
/// some ki is past its value and every key before it is equal.
pub(crate) fn after_cursor<E: EntityTrait>(
    meta: &ModelMeta,
    query: &ListQuery,
    cursor: &[Json],
) -> Result<Condition, Problem> {
    let mut keys = Vec::new();
    for ((name, order), json) in query.sort.iter().zip(cursor) {
        let field = meta
            .field(name)
            .ok_or_else(|| Problem::bad_request("`cursor` is not one this API gave out"))?;
        let (col, value) = value_for::<E>(field, json)
            .map_err(|_| Problem::bad_request("`cursor` is not one this API gave out"))?;
        keys.push((col, order.clone(), value));
    }
    let mut any = Condition::any();
    for i in 0..keys.len() {
        let mut all = Condition::all();
        for (col, _, value) in &keys[..i] {
            all = all.add(col.eq(value.clone()));
        }
        let (col, order, value) = &keys[i];
        all = all.add(match order {
            Order::Desc => col.lt(value.clone()),
            _ => col.gt(value.clone()),
        });
        any = any.add(all);
    }
    Ok(any)
}
