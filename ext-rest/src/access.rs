//! Who is calling and what the one decision (`Policies::decide`) lets them
//! do, for each handler: the caller (or the 401 / 403 / 503 that refuses
//! them), the rows they may reach, the fields hidden from them, and the
//! checks a write makes inside its transaction — the row before a change
//! or delete and the row after a create or change must be inside the
//! caller's write filter — and before a delete, the rows that refer to it.

use http::StatusCode;
use http::request::Parts;
use phial_core::AppState;
use phial_orm::meta::{ModelMeta, RelationKind};
use phial_orm::policy::{Action, Caller, Decision};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Query};
use sea_orm::{Condition, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::Value as Json;

use crate::problem::Problem;
use crate::resource::Shared;
use phial_orm::query::ListRules;

type Result<T> = std::result::Result<T, Problem>;

/// The caller of a request and the decision for one action.
pub(crate) struct Access {
    pub(crate) caller: Caller,
    pub(crate) decision: Decision,
}

/// The caller and the decision for `action`, or the refusal: 503 when the
/// request carries a sign-in that cannot be checked, 401 when nobody is
/// recognised (or an anonymous caller is refused), 403 naming what is
/// missing otherwise.
pub(crate) async fn authorize(
    s: &Shared,
    parts: &Parts,
    app: &AppState,
    action: Action,
) -> Result<Access> {
    // Resolved once per request; the guards read it.
    if let Err(e) = phial_core::identity::of_request(&parts.extensions).await {
        return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()));
    }
    let guard = if action.writes() {
        &s.write_guard
    } else {
        &s.read_guard
    };
    let refuse_anonymous = |detail: String| {
        let mut p = Problem::new(StatusCode::UNAUTHORIZED, detail);
        if guard.bearer {
            p = p.with_bearer_challenge();
        }
        p
    };
    let Some(caller) = guard.check(parts, app) else {
        return Err(refuse_anonymous(format!(
            "sign in or send a bearer token to {action} `{}` rows",
            s.meta.table
        )));
    };
    let decision = s.policy(app).decide(&caller, &s.meta.table, action);
    if decision.allowed {
        return Ok(Access { caller, decision });
    }
    let reason = decision.reason.unwrap_or_default();
    if caller.is_authenticated() {
        Err(Problem::new(StatusCode::FORBIDDEN, reason))
    } else {
        Err(refuse_anonymous(reason))
    }
}

/// The metadata and list rules as `decision` lets its caller see them:
/// hidden fields left out of answers, refused in filters, sorts and search.
pub(crate) fn visible(s: &Shared, decision: &Decision) -> Option<(ModelMeta, ListRules)> {
    if decision.hidden.is_empty() {
        return None;
    }
    let hidden: Vec<&str> = decision.hidden.iter().map(String::as_str).collect();
    let meta = s.meta.clone().hidden(hidden.as_slice());
    let keep = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|n| !decision.hidden.contains(n))
            .cloned()
            .collect()
    };
    let rules = ListRules {
        filterable: keep(&s.rules.filterable),
        sortable: keep(&s.rules.sortable),
        searchable: keep(&s.rules.searchable),
        ..s.rules.clone()
    };
    Some((meta, rules))
}

/// Whether the row `key` names is inside `rows` (checked by the database,
/// in the write's transaction).
pub(crate) async fn inside<E: EntityTrait, C: ConnectionTrait>(
    conn: &C,
    key: Condition,
    rows: &Condition,
) -> std::result::Result<bool, sea_orm::DbErr> {
    Ok(E::find()
        .filter(key.add(rows.clone()))
        .one(conn)
        .await?
        .is_some())
}

/// The 403 for a write outside the caller's write filter.
pub(crate) fn outside(s: &Shared, action: Action, after: bool) -> Problem {
    let when = if after {
        "as it would be after this write"
    } else {
        "this one"
    };
    Problem::new(
        StatusCode::FORBIDDEN,
        format!(
            "you may not {action} a `{}` row like {when}: it would be outside the rows you may write",
            s.meta.table
        ),
    )
}

/// Tables whose rows refer to the row with `key` (by the entity's
/// has-many and has-one relations), with how many refer (up to 100).
pub(crate) async fn dependants<C: ConnectionTrait>(
    conn: &C,
    meta: &ModelMeta,
    key: &Json,
    row: &serde_json::Map<String, Json>,
) -> std::result::Result<Vec<(String, u64)>, sea_orm::DbErr> {
    let _ = key;
    let mut out = Vec::new();
    for rel in &meta.relations {
        if !matches!(rel.kind, RelationKind::HasMany | RelationKind::HasOne) {
            continue;
        }
        let mut inner = Query::select();
        inner
            .expr(Expr::val(1))
            .from(Alias::new(rel.table.as_str()))
            .limit(100);
        let mut complete = true;
        for (theirs, ours) in rel.to.iter().zip(&rel.from) {
            match row.get(ours).and_then(json_value) {
                Some(v) => {
                    inner.and_where(Expr::col(Alias::new(theirs.as_str())).eq(v));
                }
                None => complete = false,
            }
        }
        if !complete {
            continue;
        }
        let outer = Query::select()
            .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
            .from_subquery(inner, Alias::new("refs"))
            .to_owned();
        let n: i64 = match conn.query_one(&outer).await? {
            Some(r) => r.try_get("", "n")?,
            None => 0,
        };
        if n > 0 {
            out.push((rel.table.clone(), n as u64));
        }
    }
    Ok(out)
}

fn json_value(v: &Json) -> Option<sea_orm::Value> {
    Some(match v {
        Json::Number(n) => match n.as_i64() {
            Some(i) => sea_orm::Value::BigInt(Some(i)),
            None => sea_orm::Value::Double(n.as_f64()),
        },
        Json::String(s) => sea_orm::Value::String(Some(s.clone())),
        Json::Bool(b) => sea_orm::Value::Bool(Some(*b)),
        _ => return None,
    })
}

/// The 409 for a delete that would take other rows with it.
pub(crate) fn refused_cascade(s: &Shared, refs: &[(String, u64)]) -> Problem {
    let what: Vec<String> = refs
        .iter()
        .map(|(t, n)| {
            let n = if *n >= 100 {
                "100 or more".to_owned()
            } else {
                n.to_string()
            };
            format!("{n} `{t}` row(s)")
        })
        .collect();
    Problem::new(
        StatusCode::CONFLICT,
        format!(
            "this `{}` row is referred to by {}: delete those first (deleting it would take them \
             with it), or let the resource cascade (`Resource::cascade()`)",
            s.meta.table,
            what.join(" and ")
        ),
    )
}
