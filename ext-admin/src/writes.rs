//! Every write the admin makes, with what the one permission model asks of
//! it, in one transaction with its log entries:
//! - the caller may do the action (the model's policy, asked through
//!   `Policies::decide` with the staff user's caller: the same answer REST
//!   and sockets get);
//! - the row before a change or delete, and the row after a create,
//!   change or restore, is inside the caller's write filter (checked by the
//!   database in the transaction), else nothing is written;
//! - a delete takes the rows that refer to it (the database would
//!   cascade) row by row, each logged against the delete that took it, so
//!   reverting that delete restores them; it is refused, with the reason,
//!   when one of them could not be logged (its table is not in the admin),
//!   may not be deleted or seen by the caller, or there are too many;
//! - a revert restores the row as the log recorded it, hidden columns
//!   included, with the rows its delete took.
//!
//! One file: every admin write's checks, cascade walk and log entries run
//! inside one `Writer` and its transaction; split, the transaction's
//! invariants would span files.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use phial_orm::Tx;
use phial_orm::meta::RelationKind;
use phial_orm::policy::{Action, Caller, Decision, Policies};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::{Map, Value as Json};

use crate::audit_entries::{self, Who, label_of};
use crate::log;
use crate::model::{AdminModel, Row, WriteError};
use crate::pages::Registry;

/// Most rows one delete may take with it.
pub(crate) const CASCADE_LIMIT: usize = 1000;

/// What a delete would take with it (for the confirmation page), or does.
#[derive(Default)]
pub(crate) struct Cascade {
    /// The rows, by model, in the order they are found.
    pub(crate) rows: Vec<(Arc<dyn AdminModel>, Row)>,
    seen: HashSet<(String, String)>,
}

/// The admin's writes for one staff user, in one transaction (see the
/// module docs). Built by `Ctx::write`, which commits when it returns `Ok`.
pub(crate) struct Writer<'a> {
    pub(crate) tx: &'a Arc<Tx>,
    pub(crate) who: &'a Who,
    pub(crate) caller: &'a Caller,
    pub(crate) policies: &'a Policies,
    pub(crate) reg: &'a Registry,
}

/// The policy action a bulk action's permission stands for.
pub(crate) fn action_of(p: crate::access::Permission) -> Action {
    use crate::access::Permission;
    match p {
        Permission::View => Action::List,
        Permission::Add => Action::Create,
        Permission::Change => Action::Change,
        Permission::Delete => Action::Delete,
    }
}

impl Writer<'_> {
    fn decide(&self, m: &dyn AdminModel, action: Action) -> Decision {
        self.policies
            .decide(self.caller, &m.spec().meta.table, action)
    }

    /// Refuses unless the caller may `action` `m`'s rows at all.
    fn allowed(&self, m: &dyn AdminModel, action: Action) -> Result<(), WriteError> {
        let d = self.decide(m, action);
        if d.allowed {
            Ok(())
        } else {
            Err(WriteError::Refused(d.reason.unwrap_or_default()))
        }
    }

    /// Refuses unless `row` (as the database has it now) is inside the
    /// rows the caller may `action`.
    async fn inside(
        &self,
        m: &dyn AdminModel,
        row: &Row,
        action: Action,
        after: bool,
    ) -> Result<(), WriteError> {
        let Some(rows) = self.decide(m, action).rows else {
            return Ok(());
        };
        if m.holds(self.tx, row, rows).await? {
            return Ok(());
        }
        let spec = m.spec();
        let shown = m.visible(row);
        Err(WriteError::Outside(if after {
            format!(
                "You may not {action} {} “{}” like this: as it would be after the write, it is \
                 outside the rows you may write.",
                spec.singular,
                label_of(spec, &shown)
            )
        } else {
            format!(
                "You may not {action} {} “{}”: it is outside the rows you may write.",
                spec.singular,
                label_of(spec, &shown)
            )
        }))
    }

    /// Creates a row from a form's values; returns it as shown.
    pub(crate) async fn create(&self, m: &dyn AdminModel, values: Json) -> Result<Row, WriteError> {
        self.allowed(m, Action::Create)?;
        let row = m.insert(self.tx, values).await?;
        self.inside(m, &row, Action::Create, true).await?;
        audit_entries::record(
            &***self.tx,
            self.who,
            m.spec(),
            "create",
            &Row::new(),
            &row,
            None,
        )
        .await?;
        Ok(m.visible(&row))
    }

    /// Changes the row in `scope` by a form's values (see
    /// `AdminModel::update`); returns (before, after) as shown.
    pub(crate) async fn update(
        &self,
        m: &dyn AdminModel,
        scope: Condition,
        values: Json,
        version: Option<String>,
        action: &str,
    ) -> Result<(Row, Row), WriteError> {
        self.allowed(m, Action::Change)?;
        let current = m
            .rows_in(self.tx, scope.clone(), 1, true)
            .await?
            .pop()
            .ok_or(WriteError::NotFound)?;
        self.inside(m, &current, Action::Change, false).await?;
        let (before, after) = m
            .update(self.tx, scope, values, version)
            .await?
            .ok_or(WriteError::NotFound)?;
        if before != after {
            self.inside(m, &after, Action::Change, true).await?;
            audit_entries::record(
                &***self.tx,
                self.who,
                m.spec(),
                action,
                &before,
                &after,
                None,
            )
            .await?;
        }
        Ok((m.visible(&before), m.visible(&after)))
    }

    /// Deletes the rows in `scope` (at most `limit`) and, with `cascade`,
    /// the rows that refer to them (else their existence refuses the
    /// delete). Returns each deleted row as shown with its entry's id.
    pub(crate) async fn delete(
        &self,
        m: &Arc<dyn AdminModel>,
        scope: Condition,
        limit: u64,
        action: &str,
        cascade: bool,
    ) -> Result<Vec<(Row, i64)>, WriteError> {
        self.allowed(&**m, Action::Delete)?;
        let rows = m.rows_in(self.tx, scope, limit, true).await?;
        for row in &rows {
            self.inside(&**m, row, Action::Delete, false).await?;
        }
        let mut walk = Cascade::default();
        for row in &rows {
            walk.seen.insert(seen_key(&**m, row));
        }
        let mut gone = Vec::with_capacity(rows.len());
        for row in rows {
            let id = audit_entries::record(
                &***self.tx,
                self.who,
                m.spec(),
                action,
                &row,
                &Row::new(),
                None,
            )
            .await?;
            self.dependants(m.clone(), row.clone(), Some(id), cascade, &mut walk)
                .await?;
            m.remove(self.tx, &row).await?;
            gone.push((m.visible(&row), id));
        }
        Ok(gone)
    }

    /// What deleting `rows` of `m` would take with it, found as the delete
    /// would find it (nothing written): the confirmation page's list, or
    /// the reason the delete would be refused.
    pub(crate) async fn plan(
        &self,
        m: &Arc<dyn AdminModel>,
        rows: &[Row],
    ) -> Result<Cascade, WriteError> {
        let mut walk = Cascade::default();
        for row in rows {
            walk.seen.insert(seen_key(&**m, row));
        }
        for row in rows {
            self.dependants(m.clone(), row.clone(), None, true, &mut walk)
                .await?;
        }
        Ok(walk)
    }

    /// The rows referring to `row` of `m`, deepest first: with `head`,
    /// deleted and logged against it; without, only found.
    fn dependants<'w>(
        &'w self,
        m: Arc<dyn AdminModel>,
        row: Row,
        head: Option<i64>,
        cascade: bool,
        walk: &'w mut Cascade,
    ) -> BoxFuture<'w, Result<(), WriteError>> {
        Box::pin(async move {
            let spec = m.spec();
            let label = label_of(spec, &m.visible(&row));
            for rel in &spec.meta.relations {
                if !matches!(rel.kind, RelationKind::HasMany | RelationKind::HasOne)
                    || rel.from.len() != rel.to.len()
                {
                    continue;
                }
                let Some(values) = rel
                    .from
                    .iter()
                    .map(|c| row.get(c).filter(|v| !v.is_null()).cloned())
                    .collect::<Option<Vec<Json>>>()
                else {
                    continue;
                };
                let Some(child) = self.reg.by_table(&rel.table).cloned() else {
                    if refers(&***self.tx, &rel.table, &rel.to, &values).await? {
                        return Err(WriteError::Refused(format!(
                            "Rows of `{}` refer to {} “{label}”, and `{}` is not in the admin, so \
                             deleting them could not be logged or undone: delete them first.",
                            rel.table, spec.singular, rel.table
                        )));
                    }
                    continue;
                };
                let pairs: Vec<(String, Json)> = rel.to.iter().cloned().zip(values).collect();
                let cond = child
                    .equal(&pairs)
                    .map_err(|e| WriteError::Fields(vec![e]))?;
                let room = CASCADE_LIMIT.saturating_sub(walk.rows.len());
                let found = child
                    .rows_in(self.tx, cond, room as u64 + 1, head.is_some())
                    .await?;
                let found: Vec<Row> = found
                    .into_iter()
                    .filter(|r| !walk.seen.contains(&seen_key(&*child, r)))
                    .collect();
                if found.is_empty() {
                    continue;
                }
                let cspec = child.spec();
                let what = format!(
                    "{} {}",
                    found.len(),
                    if found.len() == 1 {
                        cspec.singular.clone()
                    } else {
                        cspec.label.to_lowercase()
                    }
                );
                if !cascade {
                    return Err(WriteError::Refused(format!(
                        "{what} refer to {} “{label}” now: delete them first.",
                        spec.singular
                    )));
                }
                if found.len() > room {
                    return Err(WriteError::Refused(format!(
                        "More than {CASCADE_LIMIT} rows would be deleted with it: delete the rows \
                         that refer to {} “{label}” first, a page at a time.",
                        spec.singular
                    )));
                }
                let d = self.decide(&*child, Action::Delete);
                if !d.allowed {
                    return Err(WriteError::Refused(format!(
                        "{what} refer to {} “{label}” and would be deleted with it, but you may not \
                         delete {}: it needs the `{}.delete` permission.",
                        spec.singular,
                        cspec.label.to_lowercase(),
                        cspec.meta.table
                    )));
                }
                let read = self.decide(&*child, Action::List);
                for r in &found {
                    let outside_read = match &read.rows {
                        Some(rows) => !child.holds(self.tx, r, rows.clone()).await?,
                        None => false,
                    };
                    let outside_write = match &d.rows {
                        Some(rows) => !child.holds(self.tx, r, rows.clone()).await?,
                        None => false,
                    };
                    if outside_read || outside_write {
                        // No count: it would tell of rows they cannot see.
                        return Err(WriteError::Outside(format!(
                            "Rows you may not see or delete refer to {} “{label}” and would be \
                             deleted with it: it cannot be deleted by you.",
                            spec.singular
                        )));
                    }
                }
                for r in found {
                    walk.seen.insert(seen_key(&*child, &r));
                    walk.rows.push((child.clone(), r.clone()));
                    if let Some(head) = head {
                        audit_entries::record(
                            &***self.tx,
                            self.who,
                            cspec,
                            "delete",
                            &r,
                            &Row::new(),
                            Some(head),
                        )
                        .await?;
                    }
                    self.dependants(child.clone(), r.clone(), head, cascade, walk)
                        .await?;
                    if head.is_some() {
                        child.remove(self.tx, &r).await?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Runs bulk action `name` on the rows in `scope`: every row must be
    /// inside the caller's write filter before, and every row it changed
    /// after; each change is logged. Returns its message and how many rows
    /// it changed.
    pub(crate) async fn run_action(
        &self,
        m: &dyn AdminModel,
        name: &str,
        needs: crate::access::Permission,
        scope: Condition,
        limit: u64,
    ) -> Result<(String, usize), WriteError> {
        let action = action_of(needs);
        self.allowed(m, action)?;
        // The write filter of what the action may do to rows; a view
        // action's changes are held to the change filter.
        let guard_action = if action.writes() {
            action
        } else {
            Action::Change
        };
        for row in m.rows_in(self.tx, scope.clone(), limit, true).await? {
            self.inside(m, &row, guard_action, false).await?;
        }
        let (message, changed) = m.run_action(name, self.tx, scope, limit).await?;
        for (before, after) in &changed {
            if !after.is_empty() {
                self.inside(m, after, guard_action, true).await?;
            }
            audit_entries::record(&***self.tx, self.who, m.spec(), name, before, after, None)
                .await?;
        }
        Ok((message, changed.len()))
    }

    /// Undoes log entry `e` of `m`: deletes an inserted row (refused when
    /// rows refer to it now), restores a deleted one with the rows its
    /// delete took, sets a changed row's columns back (refused when a later
    /// change touched them). Returns the id of the revert's own entry;
    /// `None` when the row was already gone.
    pub(crate) async fn revert(
        &self,
        m: &Arc<dyn AdminModel>,
        e: &log::Model,
    ) -> Result<Option<i64>, WriteError> {
        if e.cascade_of.is_some() {
            return Err(WriteError::Refused(format!(
                "This row was deleted with the row of entry {}: revert that entry, which restores \
                 them together.",
                e.cascade_of.unwrap_or_default()
            )));
        }
        let key: Json = serde_json::from_str(&e.object_key).unwrap_or(Json::Null);
        let key_cond = m
            .key_condition(&key)
            .map_err(|err| WriteError::Fields(vec![err]))?;
        let read = self.decide(&**m, Action::Read);
        let scope = match read.rows {
            Some(rows) => Condition::all().add(key_cond.clone()).add(rows),
            None => key_cond.clone(),
        };
        let (visible, hidden) = entry_changes(e);
        let id = match kind(e) {
            Kind::Inserted => self
                .delete(m, scope, 1, "delete", false)
                .await?
                .pop()
                .map(|(_, id)| id),
            Kind::Deleted => Some(self.restore(m, e, &visible, &hidden).await?),
            Kind::Changed => {
                self.allowed(&**m, Action::Change)?;
                let current = m
                    .rows_in(self.tx, scope.clone(), 1, true)
                    .await?
                    .pop()
                    .ok_or_else(|| {
                        WriteError::Refused("The row is gone: there is nothing to revert.".into())
                    })?;
                let mut moved: Vec<String> = Vec::new();
                for (k, pair) in visible.iter().chain(hidden.iter()) {
                    if current.get(k) != pair.get(1) {
                        moved.push(m.spec().label_of(k));
                    }
                }
                if !moved.is_empty() {
                    return Err(WriteError::Refused(format!(
                        "Not reverted: {} changed again since. Edit the row instead.",
                        moved.join(", ")
                    )));
                }
                self.inside(&**m, &current, Action::Change, false).await?;
                let values: Row = visible
                    .iter()
                    .chain(hidden.iter())
                    .map(|(k, pair)| (k.clone(), pair.get(0).cloned().unwrap_or(Json::Null)))
                    .collect();
                let (before, after) = m.put_back(self.tx, Some(scope), values).await?;
                self.inside(&**m, &after, Action::Change, true).await?;
                Some(
                    audit_entries::record(
                        &***self.tx,
                        self.who,
                        m.spec(),
                        "revert",
                        &before,
                        &after,
                        None,
                    )
                    .await?,
                )
            }
        };
        if let Some(id) = id {
            mark_reverted(&***self.tx, e, id).await?;
        }
        Ok(id)
    }

    /// Restores the row deleted by entry `e`, then each row its delete took
    /// (in the order they were deleted: referred-to rows first).
    async fn restore(
        &self,
        m: &Arc<dyn AdminModel>,
        e: &log::Model,
        visible: &Map<String, Json>,
        hidden: &Map<String, Json>,
    ) -> Result<i64, WriteError> {
        let head = self.put_back_deleted(&**m, visible, hidden).await?;
        let taken = log::Entity::find()
            .filter(log::Column::CascadeOf.eq(e.id))
            .order_by_asc(log::Column::Id)
            .all(&***self.tx)
            .await?;
        for t in &taken {
            if t.reverted_by.is_some() {
                continue;
            }
            let child = self.reg.by_table(&t.table_name).cloned().ok_or_else(|| {
                WriteError::Refused(format!(
                    "Its delete took rows of `{}`, which is no longer in the admin: they cannot be \
                     restored with it.",
                    t.table_name
                ))
            })?;
            let (v, h) = entry_changes(t);
            let id = self.put_back_deleted(&*child, &v, &h).await?;
            mark_reverted(&***self.tx, t, id).await?;
        }
        Ok(head)
    }

    async fn put_back_deleted(
        &self,
        m: &dyn AdminModel,
        visible: &Map<String, Json>,
        hidden: &Map<String, Json>,
    ) -> Result<i64, WriteError> {
        self.allowed(m, Action::Create)?;
        let row: Row = visible
            .iter()
            .chain(hidden.iter())
            .map(|(k, pair)| (k.clone(), pair.get(0).cloned().unwrap_or(Json::Null)))
            .collect();
        let (_, after) = m.put_back(self.tx, None, row).await?;
        self.inside(m, &after, Action::Create, true).await?;
        Ok(audit_entries::record(
            &***self.tx,
            self.who,
            m.spec(),
            "restore",
            &Row::new(),
            &after,
            None,
        )
        .await?)
    }
}

fn seen_key(m: &dyn AdminModel, row: &Row) -> (String, String) {
    (
        m.spec().meta.table.clone(),
        crate::model::json_key(&m.spec().meta, row).to_string(),
    )
}

/// What a log entry did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Inserted,
    Deleted,
    Changed,
}

/// What entry `e` did.
pub(crate) fn kind(e: &log::Model) -> Kind {
    match e.action.as_str() {
        "create" | "restore" => Kind::Inserted,
        "delete" => Kind::Deleted,
        _ => Kind::Changed,
    }
}

/// An entry's diff: (what may be shown, the hidden columns).
pub(crate) fn entry_changes(e: &log::Model) -> (Map<String, Json>, Map<String, Json>) {
    let parse = |text: &str| {
        serde_json::from_str::<Json>(text)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
    };
    (
        parse(&e.changes),
        e.hidden_changes.as_deref().map(parse).unwrap_or_default(),
    )
}

async fn mark_reverted<C: ConnectionTrait>(
    conn: &C,
    e: &log::Model,
    by: i64,
) -> Result<(), WriteError> {
    let mut am: log::ActiveModel = e.clone().into();
    am.reverted_by = Set(Some(by));
    am.update(conn).await?;
    Ok(())
}

/// Whether any row of `table` has `columns` equal to `values`.
async fn refers<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    columns: &[String],
    values: &[Json],
) -> Result<bool, WriteError> {
    let mut q = Query::select();
    q.expr(Expr::val(1)).from(Alias::new(table)).limit(1);
    for (c, v) in columns.iter().zip(values) {
        let value = match v {
            Json::Number(n) => match n.as_i64() {
                Some(i) => sea_orm::Value::BigInt(Some(i)),
                None => sea_orm::Value::Double(n.as_f64()),
            },
            Json::String(s) => sea_orm::Value::String(Some(s.clone())),
            Json::Bool(b) => sea_orm::Value::Bool(Some(*b)),
            _ => return Ok(false),
        };
        q.and_where(Expr::col(Alias::new(c.as_str())).eq(value));
    }
    Ok(conn.query_one(&q).await?.is_some())
}
