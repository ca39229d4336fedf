//! A list page's query read with the one query layer
//! ([`phial_orm::query`]), the same grammar as the REST API
//! (`title__contains=x`, `rank__ge=3`, `published=true`, `sort=-rank`,
//! `page=2`), and the sidebar it renders. Counting is bounded: a table
//! past `admin.count_limit` rows is never counted in full (the
//! database's estimate, or "more than"). URLs in the admin's first filter
//! form (`f.rank.ge=3`) redirect to the same list in the grammar.

use phial_orm::meta::{FieldKind, FieldMeta};
use phial_orm::query::{self, ListQuery, ListRules, QueryError};
use sea_orm::Order;
use serde::Serialize;

use crate::form::Choice;
use crate::view::ViewSpec;

/// Parameters a list page reads itself: `_partial=rows` (the live list).
pub(crate) const OWN: [&str; 1] = ["_partial"];

/// The list rules of a view (its filters, sorts and search, less what
/// the caller may not see: `spec` is the caller's).
pub(crate) fn rules(spec: &ViewSpec, per_page: u64) -> ListRules {
    ListRules {
        cursors: false,
        blank_is_absent: true,
        own: OWN.iter().map(|s| (*s).to_owned()).collect(),
        default_sort: spec
            .order
            .iter()
            .map(|(n, desc)| (n.clone(), if *desc { Order::Desc } else { Order::Asc }))
            .collect(),
        ..ListRules::new(per_page, 500)
            .filterable(spec.filters.clone())
            .sortable(spec.sortable.clone())
            .searchable(spec.search.clone())
    }
}

/// Reads the list's query string.
pub(crate) fn parse(
    spec: &ViewSpec,
    per_page: u64,
    pairs: &[(String, String)],
) -> Result<ListQuery, QueryError> {
    query::parse_pairs(pairs.to_vec(), &spec.meta, &rules(spec, per_page))
}

/// The same query in the grammar when it uses the admin's first filter
/// form (`f.title=x` meant "contains" on text, `f.rank.ge=3` "at
/// least"); `None` when it does not.
pub(crate) fn legacy(spec: &ViewSpec, pairs: &[(String, String)]) -> Option<Vec<(String, String)>> {
    if !pairs.iter().any(|(k, _)| k.starts_with("f.")) {
        return None;
    }
    let out = pairs
        .iter()
        .map(|(k, v)| {
            let Some(rest) = k.strip_prefix("f.") else {
                return (k.clone(), v.clone());
            };
            let (name, op) = match rest.rsplit_once('.') {
                Some((n, op @ ("ge" | "le"))) => (n, Some(op)),
                _ => (rest, None),
            };
            let text = spec.meta.foreign_key(name).is_none()
                && spec.meta.field(name).is_some_and(|f| {
                    matches!(f.kind, FieldKind::String | FieldKind::Text) && f.enum_values.is_none()
                });
            let key = match op {
                Some(op) => format!("{name}__{op}"),
                None if text => format!("{name}__contains"),
                None => name.to_owned(),
            };
            (key, v.clone())
        })
        .collect();
    Some(out)
}

/// The query string of a list with `set` applied and `drop` removed,
/// as `?...` (`?` alone when empty).
pub(crate) fn link(lq: &ListQuery, set: &[(&str, String)], drop: &[&str]) -> String {
    let out = query::link("", &lq.pairs, set, drop);
    if out.is_empty() { "?".into() } else { out }
}

/// The rows' order as the admin's model fetches it: `(field,
/// descending)`, the key last.
pub(crate) fn order_of(lq: &ListQuery) -> Vec<(String, bool)> {
    lq.order
        .iter()
        .map(|(n, o)| (n.clone(), *o == Order::Desc))
        .collect()
}

/// One filter in the sidebar.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FilterUi {
    pub(crate) name: String,
    pub(crate) label: String,
    /// text, range, date_range, bool, choice
    pub(crate) kind: &'static str,
    pub(crate) value: String,
    pub(crate) from: String,
    pub(crate) to: String,
    /// The range's parameters (`rank__ge`, `rank__le`).
    pub(crate) from_name: String,
    pub(crate) to_name: String,
    pub(crate) choices: Vec<Choice>,
    pub(crate) input: &'static str,
}

/// The sidebar's filters with their current values; `foreign` gives a
/// foreign key's choices when the related table is small.
pub(crate) fn filters_ui(
    spec: &ViewSpec,
    lq: &ListQuery,
    foreign: &dyn Fn(&str) -> Option<Vec<Choice>>,
) -> Vec<FilterUi> {
    let get = |p: &str| {
        lq.pairs
            .iter()
            .find(|(k, _)| k == p)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    spec.filters
        .iter()
        .filter_map(|name| spec.meta.field(name))
        .map(|f: &FieldMeta| {
            let n = &f.name;
            let text = matches!(f.kind, FieldKind::String | FieldKind::Text)
                && f.enum_values.is_none()
                && spec.meta.foreign_key(n).is_none();
            let name = if text {
                format!("{n}__contains")
            } else {
                n.clone()
            };
            let (from_name, to_name) = (format!("{n}__ge"), format!("{n}__le"));
            let mut ui = FilterUi {
                label: spec.label_of(n),
                kind: "text",
                value: get(&name),
                from: get(&from_name),
                to: get(&to_name),
                name,
                from_name,
                to_name,
                choices: Vec::new(),
                input: "text",
            };
            if spec.meta.foreign_key(n).is_some() {
                match foreign(n) {
                    Some(choices) => {
                        ui.kind = "choice";
                        ui.choices = choices;
                    }
                    None => {
                        ui.kind = "text";
                        ui.input = "number";
                    }
                }
                return ui;
            }
            match f.kind {
                FieldKind::Boolean => {
                    ui.kind = "choice";
                    ui.choices = vec![
                        Choice {
                            value: "true".into(),
                            label: "Yes".into(),
                        },
                        Choice {
                            value: "false".into(),
                            label: "No".into(),
                        },
                    ];
                }
                FieldKind::Enum => {
                    ui.kind = "choice";
                    ui.choices = f
                        .enum_values
                        .iter()
                        .flatten()
                        .map(|v| Choice {
                            value: v.clone(),
                            label: v.clone(),
                        })
                        .collect();
                }
                FieldKind::Integer | FieldKind::Number => {
                    ui.kind = "range";
                    ui.input = "number";
                }
                FieldKind::Date | FieldKind::DateTime | FieldKind::DateTimeTz => {
                    ui.kind = "range";
                    ui.input = "date";
                }
                _ => {}
            }
            ui
        })
        .collect()
}

/// "1,234,567".
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
