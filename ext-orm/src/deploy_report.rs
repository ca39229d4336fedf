//! What the database extension tells `check --deploy`: each model's
//! effective rules with its doors, and the list columns no index serves
//! (asked of the database's catalog at startup).

use phial_core::DeployFinding;

use crate::db::Databases;
use crate::{doors, policy, query};

/// Each declared model's effective rules, for `check --deploy` (from the
/// one decision, asked for a caller of each kind), and a warning for a
/// model anonymous callers may change or delete (creating, a comment form,
/// is listed, not warned about).
pub(crate) fn policy_findings(
    policies: &policy::Policies,
    doors: &[doors::Door],
) -> Vec<DeployFinding> {
    use policy::CallerKind;
    let mut tables: Vec<&str> = policies
        .tables()
        .chain(doors.iter().map(|d| d.table.as_str()))
        .collect();
    tables.sort_unstable();
    tables.dedup();
    let mut out = Vec::new();
    for table in tables {
        let described = policies.describe(table);
        let mut parts = Vec::new();
        for (kind, actions, narrowed) in &described {
            let who = match kind {
                CallerKind::Anonymous => "anonymous",
                CallerKind::User => "users",
                CallerKind::Staff => "staff without grants",
                CallerKind::Token => "tokens without scopes",
            };
            let what = if actions.is_empty() {
                "nothing".to_owned()
            } else {
                actions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let rows = if *narrowed { " (some rows)" } else { "" };
            parts.push(format!("{who}: {what}{rows}"));
        }
        let at: Vec<String> = doors
            .iter()
            .filter(|d| d.table == table)
            .map(doors::Door::address)
            .collect();
        let declared = if policies.declared(table).is_some() {
            ""
        } else {
            " (no policy declared: the default)"
        };
        out.push(DeployFinding::info(
            format!("policy.{table}"),
            format!(
                "{}; staff and tokens with a grant: that action; superusers: everything{declared}{}",
                parts.join("; "),
                if at.is_empty() {
                    String::new()
                } else {
                    format!("; reached at {}", at.join(", "))
                }
            ),
        ));
        if described.iter().any(|(k, a, _)| {
            *k == CallerKind::Anonymous
                && a.iter()
                    .any(|a| matches!(a, policy::Action::Change | policy::Action::Delete))
        }) {
            out.push(DeployFinding::warning(
                format!("policy.{table}"),
                "anonymous callers may change or delete these rows: give those actions a rule \
                 (`Policy::new()` lets only staff with the grant and tokens with the scope write)",
            ));
        }
    }
    out
}

/// The list columns no index serves, found at startup.
#[derive(Debug, Clone, Default)]
pub(crate) struct UnindexedLists(std::sync::Arc<std::sync::Mutex<Vec<query::indexes::Missing>>>);

impl UnindexedLists {
    pub(crate) fn all(&self) -> Vec<query::indexes::Missing> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Asks the database which columns of each list door an index serves.
pub(crate) async fn list_indexes(state: &phial_core::AppState) {
    let (Some(dbs), Some(found)) = (state.get::<Databases>(), state.get::<UnindexedLists>()) else {
        return;
    };
    let db = dbs.default_db();
    let backend = db.get_database_backend();
    let mut all: Vec<query::indexes::Missing> = Vec::new();
    for door in doors::Doors::of(state) {
        let (Some(cols), Some(meta)) = (&door.list, &door.meta) else {
            continue;
        };
        let indexes = match query::indexes::of(db, &door.table).await {
            Ok(Some(i)) => i,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(table = %door.table, "reading indexes: {e}");
                continue;
            }
        };
        for m in query::indexes::missing(backend, &door.table, &meta.primary_key, cols, &indexes) {
            if !all
                .iter()
                .any(|a| a.table == m.table && a.column == m.column && a.use_ == m.use_)
            {
                all.push(m);
            }
        }
    }
    if !state.profile().is_production() {
        for m in all.iter().filter(|m| m.indexable) {
            tracing::warn!(table = %m.table, column = %m.column, "{m}");
        }
    }
    *found.0.lock().unwrap_or_else(|p| p.into_inner()) = all;
}
