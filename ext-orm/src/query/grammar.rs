//! The list grammar every surface reads: pages (`page`, `per_page`) or a
//! cursor (`cursor`), sort (`sort=-created_at,title`), filters
//! (`title=Hello`, `rank__ge=3`, `id__in=1,2`, `body__is_null=true`) and
//! search (`q`). Every name is checked against the list's allow-lists
//! before it is mapped to a column: nothing a client sends reaches SQL as
//! an identifier, and every refusal names its parameter.
//!
//! One file: the grammar's parts (pages, sort, filters, search) are read in
//! one pass over the pairs, and each refusal's message names the others.

use std::collections::HashSet;

use sea_orm::Order;
use serde_json::Value as Json;

use super::cursor;
use super::error::QueryError;
use crate::meta::ModelMeta;

/// Query parameters that are not filters.
pub const RESERVED: [&str; 5] = ["page", "per_page", "cursor", "sort", "q"];

/// The highest page number a list serves (past it, a cursor walks on).
pub const MAX_PAGE: u64 = 1_000_000_000;

/// How a filter compares, written `field__op=value` (`field=value` is
/// `eq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `field=v`, `field__eq=v`: equal (a date on a time field: that day).
    Eq,
    /// `field__ne=v`: not equal.
    Ne,
    /// `field__lt=v`: less than.
    Lt,
    /// `field__le=v`: at most (a date on a time field: up to that day's end).
    Le,
    /// `field__gt=v`: greater than.
    Gt,
    /// `field__ge=v`: at least.
    Ge,
    /// `field__contains=v`: text containing `v`, ignoring case.
    Contains,
    /// `field__in=a,b`: any of the comma-separated values.
    In,
    /// `field__is_null=true|false`.
    IsNull,
}

impl Op {
    /// Every operator, as written after `__`.
    pub const ALL: [(&'static str, Op); 9] = [
        ("eq", Op::Eq),
        ("ne", Op::Ne),
        ("lt", Op::Lt),
        ("le", Op::Le),
        ("gt", Op::Gt),
        ("ge", Op::Ge),
        ("contains", Op::Contains),
        ("in", Op::In),
        ("is_null", Op::IsNull),
    ];

    /// The operator written `s`.
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.iter().find(|(n, _)| *n == s).map(|(_, op)| *op)
    }

    /// How the operator is written after `__`.
    pub fn name(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("eq", |(n, _)| n)
    }
}

/// One filter as the client wrote it, its field allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The parameter (`rank__ge`), for messages and links.
    pub param: String,
    /// The field.
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The value as given.
    pub raw: String,
}

/// What a list lets a client use: the allow-lists and the limits.
///
/// ```
/// use phial_orm::query::ListRules;
/// let rules = ListRules::new(20, 100).filterable(["title", "rank"]).sortable(["rank"]);
/// assert_eq!(rules.max_in, 100);
/// ```
#[derive(Debug, Clone)]
pub struct ListRules {
    /// Fields a filter may name.
    pub filterable: Vec<String>,
    /// Fields `sort` may name.
    pub sortable: Vec<String>,
    /// Fields `q` searches.
    pub searchable: Vec<String>,
    /// Rows per page when `per_page` is not given.
    pub per_page: u64,
    /// The most rows per page.
    pub max_per_page: u64,
    /// The most values in one `__in` list.
    pub max_in: usize,
    /// Whether `cursor` is accepted.
    pub cursors: bool,
    /// The sort when `sort` is not given.
    pub default_sort: Vec<(String, Order)>,
    /// Whether a filter with an empty value is left out (a search form's
    /// empty inputs) rather than compared with "".
    pub blank_is_absent: bool,
    /// Parameters the surface reads itself (the parser skips them).
    pub own: Vec<String>,
}

impl ListRules {
    /// Rules with nothing filterable, sortable or searchable yet.
    pub fn new(per_page: u64, max_per_page: u64) -> Self {
        ListRules {
            filterable: Vec::new(),
            sortable: Vec::new(),
            searchable: Vec::new(),
            per_page,
            max_per_page,
            max_in: 100,
            cursors: true,
            default_sort: Vec::new(),
            blank_is_absent: false,
            own: Vec::new(),
        }
    }

    /// Fields filters may name.
    pub fn filterable<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.filterable = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Fields `sort` may name.
    pub fn sortable<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.sortable = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Fields `q` searches.
    pub fn searchable<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.searchable = fields.into_iter().map(Into::into).collect();
        self
    }
}

/// A list's query, checked against its rules. The default is the first
/// page of everything, in key order.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The numbered page, when one was asked for.
    pub page: Option<u64>,
    /// Rows per page.
    pub per_page: u64,
    /// Values of the order's keys of the row before this page.
    pub cursor: Option<Vec<Json>>,
    /// The sort asked for (or the list's default), without the key.
    pub sort: Vec<(String, Order)>,
    /// The sort with the primary key appended: the order rows come in,
    /// the same on every page.
    pub order: Vec<(String, Order)>,
    /// The filters.
    pub filters: Vec<Filter>,
    /// The search, trimmed; `None` when empty.
    pub q: Option<String>,
    /// The query's pairs as given (the surface's own left out), to build
    /// links.
    pub pairs: Vec<(String, String)>,
}

impl ListQuery {
    /// Whether filters or a search narrow the rows (a count would scan).
    pub fn narrowed(&self) -> bool {
        self.q.is_some() || !self.filters.is_empty()
    }

    /// The page number (1 when walking by cursor or not given).
    pub fn page_number(&self) -> u64 {
        self.page.unwrap_or(1)
    }

    /// Rows before the page, checked to fit any database's `OFFSET`.
    pub fn offset(&self) -> Result<u64, QueryError> {
        (self.page_number() - 1)
            .checked_mul(self.per_page)
            .filter(|o| *o <= crate::MAX_OFFSET)
            .ok_or_else(|| {
                QueryError::new(
                    "page",
                    format!("`page` {} starts beyond any table", self.page_number()),
                )
            })
    }
}

fn listing(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn number(key: &str, v: &str) -> Result<u64, QueryError> {
    v.parse::<u64>()
        .map_err(|_| QueryError::new(key, format!("`{key}` must be a whole number, not `{v}`")))
}

/// Reads a query string (`a=1&b=2`, without the `?`) against `meta` and
/// `rules`; the first mistake is the error.
///
/// ```
/// # mod post {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "post")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub rank: i32 }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// use phial_orm::meta::ModelMeta;
/// use phial_orm::query::{self, ListRules, Op};
/// let meta = ModelMeta::of::<post::Entity>();
/// let rules = ListRules::new(20, 100).filterable(["rank"]).sortable(["rank"]);
/// let q = query::parse("rank__ge=3&sort=-rank", &meta, &rules).unwrap();
/// assert_eq!(q.filters[0].op, Op::Ge);
/// assert_eq!(q.order.len(), 2); // the key breaks ties
/// let err = query::parse("rank__near=3", &meta, &rules).unwrap_err();
/// assert_eq!(err.param(), "rank__near");
/// ```
pub fn parse(query: &str, meta: &ModelMeta, rules: &ListRules) -> Result<ListQuery, QueryError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| !rules.own.iter().any(|o| o == k))
        .collect();
    parse_pairs(pairs, meta, rules)
}

/// [`parse`] for pairs already split.
pub fn parse_pairs(
    pairs: Vec<(String, String)>,
    meta: &ModelMeta,
    rules: &ListRules,
) -> Result<ListQuery, QueryError> {
    let mut out = ListQuery {
        page: None,
        per_page: rules.per_page,
        cursor: None,
        sort: Vec::new(),
        order: Vec::new(),
        filters: Vec::new(),
        q: None,
        pairs: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut sorted = false;
    for (key, value) in &pairs {
        if rules.own.iter().any(|o| o == key) {
            continue;
        }
        if value.contains('\0') || key.contains('\0') {
            // No database stores NUL in text (PostgreSQL refuses it).
            return Err(QueryError::new(
                key,
                format!(
                    "`{}` holds a NUL character (%00), which no value can hold",
                    key.replace('\0', "%00")
                ),
            ));
        }
        if RESERVED.contains(&key.as_str()) && !seen.insert(key.clone()) {
            return Err(QueryError::new(key, format!("`{key}` is given twice")));
        }
        match key.as_str() {
            "page" => out.page = Some(page(value, rules)?),
            "per_page" => {
                let n = number(key, value)?;
                if n == 0 || n > rules.max_per_page {
                    return Err(QueryError::new(
                        key,
                        format!("`per_page` must be between 1 and {}", rules.max_per_page),
                    ));
                }
                out.per_page = n;
            }
            "cursor" if !rules.cursors => {
                return Err(QueryError::new(
                    key,
                    "this list has numbered pages only: use `page`",
                ));
            }
            "cursor" => {
                if !value.is_empty() {
                    out.cursor = Some(cursor::decode(value)?);
                }
            }
            "sort" => {
                sorted = true;
                out.sort = sort(value, rules)?;
            }
            "q" => {
                if rules.searchable.is_empty() {
                    return Err(QueryError::new(key, "this list has no search (`q`)"));
                }
                let q = value.trim();
                out.q = (!q.is_empty()).then(|| q.to_owned());
            }
            _ => {
                if rules.blank_is_absent && value.trim().is_empty() {
                    continue;
                }
                out.filters.push(filter(key, value, meta, rules)?);
            }
        }
        out.pairs.push((key.clone(), value.clone()));
    }
    if out.page.is_some() && out.cursor.is_some() {
        return Err(QueryError::new(
            "cursor",
            "give `page` or `cursor`, not both",
        ));
    }
    if !sorted {
        out.sort = rules.default_sort.clone();
    }
    out.order = out.sort.clone();
    for key in &meta.primary_key {
        if !out.order.iter().any(|(n, _)| n == key) {
            out.order.push((key.clone(), Order::Asc));
        }
    }
    if let Some(cursor) = &out.cursor {
        if cursor.len() != out.order.len() {
            return Err(QueryError::new(
                "cursor",
                "`cursor` does not belong to this sort: keep `sort` as it was when the cursor was given",
            ));
        }
        if let Some((name, _)) = out
            .order
            .iter()
            .find(|(n, _)| meta.field(n).is_some_and(|f| f.nullable))
        {
            return Err(QueryError::new(
                "cursor",
                format!("cursor pages cannot sort on `{name}`, which may be null: use `page`"),
            ));
        }
    }
    Ok(out)
}

fn page(value: &str, rules: &ListRules) -> Result<u64, QueryError> {
    let page = number("page", value)?;
    if page == 0 {
        return Err(QueryError::new("page", "`page` counts from 1"));
    }
    if page > MAX_PAGE {
        let further = if rules.cursors {
            "walk further with `cursor`"
        } else {
            "narrow the list with filters or a search, or sort it the other way"
        };
        return Err(QueryError::new(
            "page",
            format!("`page` goes up to {MAX_PAGE}: {further}"),
        ));
    }
    Ok(page)
}

fn sort(value: &str, rules: &ListRules) -> Result<Vec<(String, Order)>, QueryError> {
    let mut out: Vec<(String, Order)> = Vec::new();
    for part in value.split(',').filter(|p| !p.is_empty()) {
        let (name, order) = match part.strip_prefix('-') {
            Some(name) => (name, Order::Desc),
            None => (part.strip_prefix('+').unwrap_or(part), Order::Asc),
        };
        if !rules.sortable.iter().any(|s| s == name) {
            return Err(QueryError::new(
                "sort",
                format!(
                    "cannot sort on `{name}`; sortable fields: {}",
                    listing(&rules.sortable)
                ),
            ));
        }
        // A field named again adds nothing: the first wins.
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_owned(), order));
        }
    }
    Ok(out)
}

fn filter(
    key: &str,
    value: &str,
    meta: &ModelMeta,
    rules: &ListRules,
) -> Result<Filter, QueryError> {
    let (field, op) = match key.rsplit_once("__") {
        Some((field, op)) => match Op::parse(op) {
            Some(op) => (field, op),
            None => {
                let ops: Vec<&str> = Op::ALL.iter().map(|(n, _)| *n).collect();
                return Err(QueryError::new(
                    key,
                    format!(
                        "unknown filter operator `{op}` in `{key}`; operators: {}",
                        ops.join(", ")
                    ),
                ));
            }
        },
        None => (key, Op::Eq),
    };
    if !rules.filterable.iter().any(|f| f == field) {
        let what = if meta.field(field).is_some_and(|f| !f.hidden) {
            format!("`{field}` is not filterable")
        } else {
            format!("unknown query parameter `{key}`")
        };
        return Err(QueryError::new(
            key,
            format!(
                "{what}; filterable fields: {}; other parameters: {}",
                listing(&rules.filterable),
                RESERVED.join(", ")
            ),
        ));
    }
    if op == Op::In {
        let n = value.split(',').count();
        if n > rules.max_in {
            return Err(QueryError::new(
                key,
                format!(
                    "`{key}` lists {n} values; a list takes at most {}",
                    rules.max_in
                ),
            ));
        }
    }
    Ok(Filter {
        param: key.to_owned(),
        field: field.to_owned(),
        op,
        raw: value.to_owned(),
    })
}
