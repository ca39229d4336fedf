//! A checked list query as SQL: filters and search as one condition, the
//! rows after a cursor, and the order. Values are typed against their
//! field the way a written value is, so a filter that cannot match its
//! column is a 400 naming the parameter, never a database error.

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder, Select};
use serde_json::Value as Json;

use super::error::QueryError;
use super::grammar::{Filter, ListQuery, Op};
use super::values::{column, compare_value, contains};
use crate::meta::{FieldKind, FieldMeta, ModelMeta};

/// A query-string value as the JSON a field's kind expects.
fn typed(field: &FieldMeta, param: &str, raw: &str) -> Result<Json, QueryError> {
    let bad = |what: &str| QueryError::new(param, format!("`{param}` must be {what}, not `{raw}`"));
    Ok(match field.kind {
        FieldKind::Integer => Json::from(raw.parse::<i64>().map_err(|_| bad("a whole number"))?),
        FieldKind::Number => {
            let f = raw.parse::<f64>().map_err(|_| bad("a number"))?;
            serde_json::Number::from_f64(f)
                .map(Json::Number)
                .ok_or_else(|| bad("a number"))?
        }
        FieldKind::Boolean => Json::Bool(boolean(raw).ok_or_else(|| bad("true or false"))?),
        _ => Json::String(raw.to_owned()),
    })
}

fn boolean(raw: &str) -> Option<bool> {
    match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn value<E: EntityTrait>(
    field: &FieldMeta,
    param: &str,
    json: &Json,
) -> Result<(E::Column, sea_orm::Value), QueryError> {
    compare_value::<E>(field, json).map_err(|e| {
        let raw = json
            .as_str()
            .map_or_else(|| json.to_string(), str::to_owned);
        QueryError::new(param, format!("`{param}`: `{raw}` {}", e.message))
    })
}

/// A day given to a time field: the instants from its start to before
/// the next day's start.
fn day_bounds(field: &FieldMeta, raw: &str) -> Option<(Json, Json)> {
    if !matches!(field.kind, FieldKind::DateTime | FieldKind::DateTimeTz) {
        return None;
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let next = day.succ_opt()?;
    let z = if field.kind == FieldKind::DateTimeTz {
        "Z"
    } else {
        ""
    };
    let at = |d: NaiveDate| Json::String(format!("{d}T00:00:00{z}"));
    Some((at(day), at(next)))
}

fn filter_condition<E: EntityTrait>(
    meta: &ModelMeta,
    filter: &Filter,
) -> Result<Condition, QueryError> {
    let param = filter.param.as_str();
    let field = meta
        .field(&filter.field)
        .ok_or_else(|| QueryError::new(param, format!("unknown field `{}`", filter.field)))?;
    let col = column::<E>(&field.name)
        .ok_or_else(|| QueryError::new(param, format!("unknown field `{}`", field.name)))?;
    let raw = filter.raw.as_str();
    let one = |e: Expr| Condition::all().add(e);
    Ok(match filter.op {
        Op::IsNull => match boolean(raw) {
            Some(true) => one(col.is_null()),
            Some(false) => one(col.is_not_null()),
            None => {
                return Err(QueryError::new(
                    param,
                    format!("`{param}` must be true or false, not `{raw}`"),
                ));
            }
        },
        Op::Contains => {
            if !matches!(
                field.kind,
                FieldKind::String | FieldKind::Text | FieldKind::Enum
            ) {
                return Err(QueryError::new(
                    param,
                    format!("`contains` works on text; `{}` is not text", field.name),
                ));
            }
            one(Expr::expr(contains::<E>(col, raw)))
        }
        Op::In => {
            let mut any = Condition::any();
            let mut plain = Vec::new();
            for part in raw.split(',') {
                if let Some((from, to)) = day_bounds(field, part) {
                    let (c, from) = value::<E>(field, param, &from)?;
                    let (_, to) = value::<E>(field, param, &to)?;
                    any = any.add(Condition::all().add(c.gte(from)).add(c.lt(to)));
                } else {
                    plain.push(value::<E>(field, param, &typed(field, param, part)?)?.1);
                }
            }
            if !plain.is_empty() {
                any = any.add(col.is_in(plain));
            }
            any
        }
        op => {
            if let Some((from, to)) = day_bounds(field, raw) {
                let (c, from) = value::<E>(field, param, &from)?;
                let (_, to) = value::<E>(field, param, &to)?;
                return Ok(match op {
                    Op::Eq => Condition::all().add(c.gte(from)).add(c.lt(to)),
                    Op::Ne => Condition::any().add(c.lt(from)).add(c.gte(to)),
                    Op::Lt => one(c.lt(from)),
                    Op::Le => one(c.lt(to)),
                    Op::Gt => one(c.gte(to)),
                    _ => one(c.gte(from)),
                });
            }
            let (c, v) = value::<E>(field, param, &typed(field, param, raw)?)?;
            one(match op {
                Op::Eq => c.eq(v),
                Op::Ne => c.ne(v),
                Op::Lt => c.lt(v),
                Op::Le => c.lte(v),
                Op::Gt => c.gt(v),
                _ => c.gte(v),
            })
        }
    })
}

/// The filters and the search (`q` in `search`) as one condition.
///
/// `search` is passed apart from the rules so a surface can leave out
/// fields the caller may not see.
pub fn condition<E: EntityTrait>(
    meta: &ModelMeta,
    query: &ListQuery,
    search: &[String],
) -> Result<Condition, QueryError> {
    let mut cond = Condition::all();
    for filter in &query.filters {
        cond = cond.add(filter_condition::<E>(meta, filter)?);
    }
    if let Some(q) = &query.q {
        let mut any = Condition::any();
        for name in search {
            if let Some(col) = column::<E>(name) {
                any = any.add(contains::<E>(col, q));
            }
        }
        if search.is_empty() {
            // Nothing searchable matches nothing.
            any = any.add(Expr::val(1).eq(Expr::val(0)));
        }
        cond = cond.add(any);
    }
    Ok(cond)
}

/// Rows after the cursor, in the query's order: for keys k1..kn, the rows
/// where some ki is past its value and every key before it is equal.
pub fn after_cursor<E: EntityTrait>(
    meta: &ModelMeta,
    query: &ListQuery,
    cursor: &[Json],
) -> Result<Condition, QueryError> {
    let bad = || QueryError::new("cursor", "`cursor` is not one this API gave out");
    let mut keys = Vec::new();
    for ((name, order), json) in query.order.iter().zip(cursor) {
        let field = meta.field(name).ok_or_else(bad)?;
        let (col, value) = compare_value::<E>(field, json).map_err(|_| bad())?;
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

/// `select` in the query's order (the key last, so pages never overlap).
pub fn ordered<E: EntityTrait>(
    mut select: Select<E>,
    order: &[(String, Order)],
) -> Result<Select<E>, QueryError> {
    for (name, dir) in order {
        let col = column::<E>(name)
            .ok_or_else(|| QueryError::new("sort", format!("cannot sort on `{name}`")))?;
        select = select.order_by(col, dir.clone());
    }
    Ok(select)
}

/// `select` narrowed by `cond`, leaving out an empty `WHERE` (SQLite
/// counts a table without a `WHERE` from its b-tree, without reading rows).
pub fn filtered<E: EntityTrait>(select: Select<E>, cond: &Condition) -> Select<E> {
    if cond.is_empty() {
        select
    } else {
        select.filter(cond.clone())
    }
}
