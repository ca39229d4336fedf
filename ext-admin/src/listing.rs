//! A list page's query — search, filters by field type, sort, page — read
//! from the URL, checked against the view, and the sidebar it renders.
//! Counting is bounded: a table past `admin.count_limit` rows is never
//! counted in full (the database's estimate, or "more than").

use phial_orm::meta::{FieldKind, FieldMeta};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::Serialize;
use serde_json::Value as Json;

use crate::form::Choice;
use crate::model::{Clause, Op};
use crate::view::ViewSpec;

/// The list's query, checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    pub(crate) q: Option<String>,
    pub(crate) sort: Vec<(String, bool)>,
    pub(crate) page: u64,
    pub(crate) clauses: Vec<Clause>,
    /// Filter inputs as given: `(param, value)`, kept for links and the
    /// sidebar.
    pub(crate) params: Vec<(String, String)>,
    pub(crate) errors: Vec<String>,
}

impl ListQuery {
    /// Whether the rows are narrowed (a count would scan).
    pub(crate) fn narrowed(&self) -> bool {
        self.q.is_some() || !self.clauses.is_empty()
    }

    /// The query string of this list with `changes` applied (`None`
    /// removes a key).
    pub(crate) fn link(&self, changes: &[(&str, Option<String>)]) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = &self.q {
            pairs.push(("q".into(), q.clone()));
        }
        if !self.sort.is_empty() {
            pairs.push(("sort".into(), sort_text(&self.sort)));
        }
        pairs.extend(self.params.iter().cloned());
        for (k, v) in changes {
            pairs.retain(|(pk, _)| pk != k);
            if let Some(v) = v {
                pairs.push(((*k).to_owned(), v.clone()));
            }
        }
        if self.page > 1 && !changes.iter().any(|(k, _)| *k == "page") {
            pairs.push(("page".into(), self.page.to_string()));
        }
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            s.append_pair(k, v);
        }
        let q = s.finish();
        if q.is_empty() {
            "?".into()
        } else {
            format!("?{q}")
        }
    }
}

pub(crate) fn sort_text(sort: &[(String, bool)]) -> String {
    sort.iter()
        .map(|(c, d)| if *d { format!("-{c}") } else { c.clone() })
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads `q`, `sort`, `page` and `f.<field>[.ge|.le]` from the URL.
pub(crate) fn parse(spec: &ViewSpec, pairs: &[(String, String)]) -> ListQuery {
    let mut out = ListQuery {
        page: 1,
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "q" if !v.trim().is_empty() => out.q = Some(v.trim().to_owned()),
            "page" => match v.parse::<u64>() {
                Ok(p) if p >= 1 => out.page = p,
                _ => out.errors.push(format!("page `{v}` is not a page number")),
            },
            "sort" => {
                for part in v.split(',').filter(|p| !p.is_empty()) {
                    let (name, desc) = match part.strip_prefix('-') {
                        Some(n) => (n, true),
                        None => (part, false),
                    };
                    if spec.sortable.iter().any(|s| s == name) {
                        out.sort.push((name.to_owned(), desc));
                    } else {
                        out.errors.push(format!(
                            "cannot sort on `{name}`; sortable: {}",
                            spec.sortable.join(", ")
                        ));
                    }
                }
            }
            _ => {
                if let Some(rest) = k.strip_prefix("f.") {
                    if v.trim().is_empty() {
                        continue;
                    }
                    match clause(spec, rest, v.trim()) {
                        Ok(c) => {
                            out.clauses.push(c);
                            out.params.push((k.clone(), v.trim().to_owned()));
                        }
                        Err(e) => out.errors.push(e),
                    }
                }
            }
        }
    }
    if out.sort.is_empty() {
        out.sort = spec.order.clone();
    }
    out
}

fn clause(spec: &ViewSpec, param: &str, raw: &str) -> Result<Clause, String> {
    let (name, suffix) = match param.rsplit_once('.') {
        Some((n, s @ ("ge" | "le"))) => (n, Some(s)),
        _ => (param, None),
    };
    if !spec.filters.iter().any(|f| f == name) {
        return Err(format!("`{name}` is not a filter here"));
    }
    let field = spec
        .meta
        .field(name)
        .ok_or_else(|| format!("`{name}` is not a field"))?;
    let foreign = spec.meta.foreign_key(name).is_some();
    let bad = |what: &str| format!("filter `{}`: `{raw}` is not {what}", spec.label_of(name));
    let (op, value) = match (field.kind, suffix) {
        (FieldKind::String | FieldKind::Text | FieldKind::Uuid, None) if !foreign => {
            (Op::Contains, Json::String(raw.to_owned()))
        }
        (FieldKind::Boolean, None) => match raw {
            "true" => (Op::Eq, Json::Bool(true)),
            "false" => (Op::Eq, Json::Bool(false)),
            _ => return Err(bad("yes or no")),
        },
        (FieldKind::Integer, s) => {
            let n: i64 = raw.parse().map_err(|_| bad("a whole number"))?;
            (range_op(s), Json::from(n))
        }
        (FieldKind::Number, s) => {
            let n: f64 = raw.parse().map_err(|_| bad("a number"))?;
            (
                range_op(s),
                serde_json::Number::from_f64(n)
                    .map(Json::Number)
                    .ok_or_else(|| bad("a number"))?,
            )
        }
        (FieldKind::Date, s) => {
            let d = parse_date(raw).ok_or_else(|| bad("a date (2026-12-02)"))?;
            (range_op(s), Json::String(d.to_string()))
        }
        (FieldKind::DateTime | FieldKind::DateTimeTz, s) => {
            // A date range over instants: from the start of the first day
            // to before the start of the day after the last.
            let d = parse_date(raw).ok_or_else(|| bad("a date (2026-12-02)"))?;
            let (op, day) = match s {
                Some("le") => (Op::Lt, d.succ_opt().unwrap_or(d)),
                _ => (Op::Ge, d),
            };
            let z = if field.kind == FieldKind::DateTimeTz {
                "Z"
            } else {
                ""
            };
            (op, Json::String(format!("{day}T00:00:00{z}")))
        }
        (FieldKind::Enum | FieldKind::String, None) => (Op::Eq, Json::String(raw.to_owned())),
        _ => return Err(format!("`{name}` cannot be filtered")),
    };
    Ok(Clause {
        field: name.to_owned(),
        op,
        value,
    })
}

fn range_op(suffix: Option<&str>) -> Op {
    match suffix {
        Some("ge") => Op::Ge,
        Some("le") => Op::Le,
        _ => Op::Eq,
    }
}

fn parse_date(raw: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
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
    pub(crate) choices: Vec<Choice>,
    pub(crate) input: &'static str,
}

/// The sidebar's filters with their current values; `foreign` gives a
/// foreign key's choices when the related table is small.
pub(crate) fn filters_ui(
    spec: &ViewSpec,
    q: &ListQuery,
    foreign: &dyn Fn(&str) -> Option<Vec<Choice>>,
) -> Vec<FilterUi> {
    let get = |p: String| {
        q.params
            .iter()
            .find(|(k, _)| *k == p)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    spec.filters
        .iter()
        .filter_map(|name| spec.meta.field(name))
        .map(|f: &FieldMeta| {
            let n = &f.name;
            let mut ui = FilterUi {
                name: format!("f.{n}"),
                label: spec.label_of(n),
                kind: "text",
                value: get(format!("f.{n}")),
                from: get(format!("f.{n}.ge")),
                to: get(format!("f.{n}.le")),
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

/// The database's own estimate of a table's rows (PostgreSQL's
/// statistics, MySQL's table status), without scanning; `None` on SQLite
/// or when no statistics exist yet.
pub(crate) async fn estimate(db: &DatabaseConnection, table: &str) -> Option<u64> {
    let backend = db.get_database_backend();
    let stmt = match backend {
        DbBackend::Postgres => Statement::from_sql_and_values(
            backend,
            "SELECT reltuples::bigint AS n FROM pg_class WHERE oid = to_regclass($1)",
            [table.into()],
        ),
        DbBackend::MySql => Statement::from_sql_and_values(
            backend,
            "SELECT CAST(TABLE_ROWS AS SIGNED) AS n FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            [table.into()],
        ),
        _ => return None,
    };
    let row = db.query_one_raw(stmt).await.ok()??;
    let n: i64 = row.try_get("", "n").ok()?;
    // PostgreSQL says -1 for a table never analysed.
    (n >= 0).then_some(n as u64)
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
