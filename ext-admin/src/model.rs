//! A model view with its entity type erased: what the pages call to read
//! and write rows as JSON maps. Reads return what may be shown; the write
//! primitives work on whole rows (hidden columns too, for the audit log)
//! inside a transaction the caller holds ([`crate::writes`] adds the
//! permission checks, the row filters, the log and cascades). Writes go
//! through `Tx` (published after the commit: caches, ETags and live pages
//! follow) and are checked field by field by the model metadata, the same
//! checks REST makes.
//!
//! One file: the type-erased trait and its one implementation, which change
//! together.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use phial_orm::meta::json::{self, FieldError, WriteMode};
use phial_orm::meta::{FieldKind, ModelMeta};
use phial_orm::query::{self, ListQuery, QueryError, Total};
use phial_orm::{OrmError, Tx};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    DbErr, IntoActiveModel, Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Map, Value as Json};

use crate::access::Permission;
use crate::view::{AdminEntity, ModelView, ViewSpec};

/// A row as the admin shows it: visible fields by name.
pub(crate) type Row = Map<String, Json>;

/// Why a write did not happen.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// Fields that cannot be stored, each with its reason.
    Fields(Vec<FieldError>),
    /// Someone saved the row since the form was loaded: the row as it is.
    Conflict(Box<Row>),
    /// No such row (or not one this user may reach).
    NotFound,
    /// The database refused (a constraint) or failed.
    Db(OrmError),
    /// A bulk action reported a failure.
    Action(String),
    /// The row before or after the write is outside the rows the user may
    /// write (a 403 with the reason).
    Outside(String),
    /// Not done, for the reason given (a cascade that cannot be logged or
    /// is not allowed, a revert that cannot restore what it shows).
    Refused(String),
}

/// The version of a row an edit form carries: a hash of what the admin
/// shows of it (any change to a visible field changes it).
pub(crate) fn version_of(row: &Row) -> String {
    let bytes = serde_json::to_vec(row).unwrap_or_default();
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

impl From<OrmError> for WriteError {
    fn from(e: OrmError) -> Self {
        WriteError::Db(e)
    }
}

impl From<DbErr> for WriteError {
    fn from(e: DbErr) -> Self {
        WriteError::Db(OrmError::from(e))
    }
}

/// What a bulk action did: its message and (before, after) of each row it
/// changed, whole.
pub(crate) type ActionDone = (String, Vec<(Row, Row)>);

/// One model, entity type erased.
pub(crate) trait AdminModel: Send + Sync {
    fn spec(&self) -> &ViewSpec;
    /// Bulk actions: (name, label, the permission each needs).
    fn actions(&self) -> Vec<(String, String, Permission)>;
    /// A list query's filters and search (`q` in the fields `search`
    /// names: the view's, less what the policy hides from the user) as one
    /// condition.
    fn condition(&self, lq: &ListQuery, search: &[String]) -> Result<Condition, QueryError>;
    /// Rows whose `field`s equal the values (a dependant's foreign key).
    fn equal(&self, values: &[(String, Json)]) -> Result<Condition, FieldError>;
    /// Rows after `row` in `order` (the key last): keyset paging, which
    /// costs the same on the last page as on the first.
    fn after_row(&self, order: &[(String, Order)], row: &Row) -> Result<Condition, QueryError>;
    /// The row with this key.
    fn key_condition(&self, key: &Json) -> Result<Condition, FieldError>;
    /// Rows with any of these keys.
    fn keys_condition(&self, keys: &[Json]) -> Result<Condition, FieldError>;
    /// Rows as they may be shown (hidden columns left out).
    fn fetch<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        cond: Condition,
        sort: &'a [(String, bool)],
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbErr>>;
    /// Rows matching, counted up to `limit + 1` at most.
    fn count<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        cond: Condition,
        limit: u64,
    ) -> BoxFuture<'a, Result<u64, DbErr>>;
    /// How many rows `cond` finds, bounded by `limit` (the table's
    /// estimate past it).
    fn total<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        cond: Condition,
        limit: u64,
    ) -> BoxFuture<'a, Result<Total, DbErr>>;
    /// Every field error `values` has, writing nothing.
    fn validate(&self, values: &Json, creating: bool) -> Vec<FieldError>;
    /// Whole rows (hidden columns too) in `scope`, at most `limit`, in key
    /// order; with `lock`, locked for the rest of the transaction where
    /// the database locks rows.
    fn rows_in<'a>(
        &'a self,
        tx: &'a Tx,
        scope: Condition,
        limit: u64,
        lock: bool,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbErr>>;
    /// Whether the row `row` names (by its key) satisfies `cond`, as the
    /// database sees it inside the transaction.
    fn holds<'a>(
        &'a self,
        tx: &'a Tx,
        row: &'a Row,
        cond: Condition,
    ) -> BoxFuture<'a, Result<bool, WriteError>>;
    /// Inserts a row from a form's values; returns it whole.
    fn insert<'a>(&'a self, tx: &'a Tx, values: Json) -> BoxFuture<'a, Result<Row, WriteError>>;
    /// Changes the row in `scope` by a form's values; with `version`, only
    /// if it is still the one the form was loaded from. Returns (before,
    /// after), whole rows; `None` for no such row.
    fn update<'a>(
        &'a self,
        tx: &'a Tx,
        scope: Condition,
        values: Json,
        version: Option<String>,
    ) -> BoxFuture<'a, Result<Option<(Row, Row)>, WriteError>>;
    /// Puts columns back as a log entry recorded them, hidden and
    /// read-only ones included (a revert): into the row in `scope`, or, with
    /// no scope, as a new row (key included). Returns the row whole (and
    /// for an update, what it was).
    fn put_back<'a>(
        &'a self,
        tx: &'a Tx,
        scope: Option<Condition>,
        values: Row,
    ) -> BoxFuture<'a, Result<(Row, Row), WriteError>>;
    /// Deletes the row `row` names; whether it was there.
    fn remove<'a>(&'a self, tx: &'a Tx, row: &'a Row) -> BoxFuture<'a, Result<bool, WriteError>>;
    /// Runs a bulk action on the rows in `scope` (at most `limit`);
    /// returns its message and (before, after) of each row it changed.
    fn run_action<'a>(
        &'a self,
        name: &'a str,
        tx: &'a Arc<Tx>,
        scope: Condition,
        limit: u64,
    ) -> BoxFuture<'a, Result<ActionDone, WriteError>>;
    /// What of a whole row may be shown.
    fn visible(&self, row: &Row) -> Row {
        row.iter()
            .filter(|(k, _)| self.spec().meta.field(k).is_some_and(|f| !f.hidden))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// A view ready to serve: the spec plus what writes use.
pub(crate) struct Mounted<E: AdminEntity> {
    view: ModelView<E>,
    /// The metadata forms write through: the view's read-only fields too.
    write_meta: ModelMeta,
    /// Every column, none hidden: what the log keeps.
    whole: ModelMeta,
}

impl<E: AdminEntity> Mounted<E> {
    pub(crate) fn erased(view: ModelView<E>) -> Arc<dyn AdminModel> {
        let ro: Vec<&str> = view.spec.read_only.iter().map(String::as_str).collect();
        let write_meta = view.spec.meta.clone().read_only(ro.as_slice());
        let mut whole = view.spec.meta.clone();
        for f in &mut whole.fields {
            f.hidden = false;
        }
        Arc::new(Mounted {
            view,
            write_meta,
            whole,
        })
    }

    fn meta(&self) -> &ModelMeta {
        &self.view.spec.meta
    }

    /// What may be shown of a model.
    fn row(&self, model: &E::Model) -> Row {
        json::to_json::<E>(self.meta(), model)
    }

    /// A model whole, hidden columns too.
    fn whole_row(&self, model: &E::Model) -> Row {
        json::to_json::<E>(&self.whole, model)
    }

    fn find_locked(&self, tx: &Tx, scope: Condition) -> sea_orm::Select<E> {
        let q = E::find().filter(scope);
        if backend_locks(&**tx) {
            q.lock_exclusive()
        } else {
            q
        }
    }

    /// Sets every column `values` names, as stored values (no field rules:
    /// the log recorded them).
    fn set_raw(&self, am: &mut E::ActiveModel, values: &Row) -> Result<(), WriteError> {
        let mut errors = Vec::new();
        for (name, value) in values {
            let (Some(field), Some(col)) = (self.whole.field(name), query::column::<E>(name))
            else {
                continue;
            };
            if field.kind == FieldKind::Other {
                continue;
            }
            let column_type = col.def().get_column_type().clone();
            if let Err(e) = json::json_to_value(field, &column_type, value)
                .and_then(|v| json::set_column::<E>(am, col, v))
            {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(WriteError::Fields(errors))
        }
    }

    fn key_of(&self, row: &Row) -> Result<Condition, WriteError> {
        self.key_condition(&json_key(self.meta(), row))
            .map_err(|e| WriteError::Fields(vec![e]))
    }
}

fn unknown(field: &str) -> FieldError {
    FieldError::new(field, "unknown", format!("unknown field `{field}`"))
}

fn backend_locks(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() != DbBackend::Sqlite
}

impl<E: AdminEntity> AdminModel for Mounted<E> {
    fn spec(&self) -> &ViewSpec {
        &self.view.spec
    }

    fn actions(&self) -> Vec<(String, String, Permission)> {
        self.view
            .actions
            .iter()
            .map(|a| (a.name.clone(), a.label.clone(), a.needs))
            .collect()
    }

    fn condition(&self, lq: &ListQuery, search: &[String]) -> Result<Condition, QueryError> {
        query::condition::<E>(self.meta(), lq, search)
    }

    fn after_row(&self, order: &[(String, Order)], row: &Row) -> Result<Condition, QueryError> {
        let values: Vec<Json> = order
            .iter()
            .map(|(n, _)| row.get(n).cloned().unwrap_or(Json::Null))
            .collect();
        let lq = ListQuery {
            order: order.to_vec(),
            ..ListQuery::default()
        };
        query::after_cursor::<E>(self.meta(), &lq, &values)
    }

    fn equal(&self, values: &[(String, Json)]) -> Result<Condition, FieldError> {
        let mut cond = Condition::all();
        for (name, value) in values {
            let field = self.meta().field(name).ok_or_else(|| unknown(name))?;
            let (col, v) = query::compare_value::<E>(field, value)?;
            cond = cond.add(col.eq(v));
        }
        Ok(cond)
    }

    fn key_condition(&self, key: &Json) -> Result<Condition, FieldError> {
        let pk = &self.meta().primary_key;
        let parts: Vec<&Json> = match (pk.len(), key) {
            (1, k) => vec![k],
            (n, Json::Array(items)) if items.len() == n => items.iter().collect(),
            _ => {
                return Err(FieldError::new(
                    "",
                    "format",
                    format!("a key of `{}` has {} parts", self.meta().table, pk.len()),
                ));
            }
        };
        let mut cond = Condition::all();
        for (name, part) in pk.iter().zip(parts) {
            let field = self.meta().field(name).ok_or_else(|| unknown(name))?;
            let (col, v) = query::compare_value::<E>(field, part)?;
            cond = cond.add(col.eq(v));
        }
        Ok(cond)
    }

    fn keys_condition(&self, keys: &[Json]) -> Result<Condition, FieldError> {
        let mut any = Condition::any();
        for k in keys {
            any = any.add(self.key_condition(k)?);
        }
        if keys.is_empty() {
            // Nothing selected matches nothing.
            any = any.add(sea_orm::sea_query::ExprTrait::eq(
                Expr::val(1),
                Expr::val(0),
            ));
        }
        Ok(any)
    }

    fn fetch<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        cond: Condition,
        sort: &'a [(String, bool)],
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbErr>> {
        Box::pin(async move {
            let mut q = E::find().filter(cond);
            for (name, desc) in sort {
                if let Some(col) = query::column::<E>(name) {
                    q = q.order_by(col, if *desc { Order::Desc } else { Order::Asc });
                }
            }
            // The key breaks ties, so pages never overlap.
            let last_desc = sort.last().is_some_and(|(_, d)| *d);
            for k in &self.meta().primary_key {
                if !sort.iter().any(|(s, _)| s == k)
                    && let Some(col) = query::column::<E>(k)
                {
                    q = q.order_by(col, if last_desc { Order::Desc } else { Order::Asc });
                }
            }
            let models = q.offset(offset).limit(limit).all(db).await?;
            Ok(models.iter().map(|m| self.row(m)).collect())
        })
    }

    fn count<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        cond: Condition,
        limit: u64,
    ) -> BoxFuture<'a, Result<u64, DbErr>> {
        Box::pin(query::count::bounded(db, E::find().filter(cond), limit))
    }

    fn total<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        cond: Condition,
        limit: u64,
    ) -> BoxFuture<'a, Result<Total, DbErr>> {
        let narrowed = (!cond.is_empty()).then(|| E::find().filter(cond));
        Box::pin(query::count::total(db, &self.meta().table, narrowed, limit))
    }

    fn validate(&self, values: &Json, creating: bool) -> Vec<FieldError> {
        let mut am = E::ActiveModel::default();
        let mode = if creating {
            WriteMode::Create
        } else {
            WriteMode::Patch
        };
        json::apply::<E>(&self.write_meta, &mut am, values, mode)
            .err()
            .unwrap_or_default()
    }

    fn rows_in<'a>(
        &'a self,
        tx: &'a Tx,
        scope: Condition,
        limit: u64,
        lock: bool,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbErr>> {
        Box::pin(async move {
            let mut q = if lock {
                self.find_locked(tx, scope)
            } else {
                E::find().filter(scope)
            };
            // The key orders the locks: two bulk writes never deadlock.
            for k in &self.meta().primary_key {
                if let Some(col) = query::column::<E>(k) {
                    q = q.order_by(col, Order::Asc);
                }
            }
            let models = q.limit(limit).all(&**tx).await?;
            Ok(models.iter().map(|m| self.whole_row(m)).collect())
        })
    }

    fn holds<'a>(
        &'a self,
        tx: &'a Tx,
        row: &'a Row,
        cond: Condition,
    ) -> BoxFuture<'a, Result<bool, WriteError>> {
        Box::pin(async move {
            let key = self.key_of(row)?;
            let found = E::find()
                .filter(Condition::all().add(key).add(cond))
                .select_only()
                .expr(Expr::val(1))
                .into_tuple::<i32>()
                .one(&**tx)
                .await?;
            Ok(found.is_some())
        })
    }

    fn insert<'a>(&'a self, tx: &'a Tx, values: Json) -> BoxFuture<'a, Result<Row, WriteError>> {
        Box::pin(async move {
            let mut am = E::ActiveModel::default();
            json::apply::<E>(&self.write_meta, &mut am, &values, WriteMode::Create)
                .map_err(WriteError::Fields)?;
            let saved = tx.insert(am).await?;
            Ok(self.whole_row(&saved))
        })
    }

    fn update<'a>(
        &'a self,
        tx: &'a Tx,
        scope: Condition,
        values: Json,
        version: Option<String>,
    ) -> BoxFuture<'a, Result<Option<(Row, Row)>, WriteError>> {
        Box::pin(async move {
            let Some(current) = self.find_locked(tx, scope).one(&**tx).await? else {
                return Ok(None);
            };
            if version
                .as_deref()
                .is_some_and(|v| v != version_of(&self.row(&current)))
            {
                return Err(WriteError::Conflict(Box::new(self.row(&current))));
            }
            let before = self.whole_row(&current);
            let mut am = current.into_active_model();
            json::apply::<E>(&self.write_meta, &mut am, &values, WriteMode::Patch)
                .map_err(WriteError::Fields)?;
            if !sea_orm::ActiveModelTrait::is_changed(&am) {
                return Ok(Some((before.clone(), before)));
            }
            let saved = tx.update(am).await?;
            Ok(Some((before, self.whole_row(&saved))))
        })
    }

    fn put_back<'a>(
        &'a self,
        tx: &'a Tx,
        scope: Option<Condition>,
        values: Row,
    ) -> BoxFuture<'a, Result<(Row, Row), WriteError>> {
        Box::pin(async move {
            match scope {
                None => {
                    let mut am = E::ActiveModel::default();
                    self.set_raw(&mut am, &values)?;
                    let saved = tx.insert(am).await?;
                    Ok((Row::new(), self.whole_row(&saved)))
                }
                Some(scope) => {
                    let current = self
                        .find_locked(tx, scope)
                        .one(&**tx)
                        .await?
                        .ok_or(WriteError::NotFound)?;
                    let before = self.whole_row(&current);
                    let mut am = current.into_active_model();
                    self.set_raw(&mut am, &values)?;
                    let saved = tx.update(am).await?;
                    Ok((before, self.whole_row(&saved)))
                }
            }
        })
    }

    fn remove<'a>(&'a self, tx: &'a Tx, row: &'a Row) -> BoxFuture<'a, Result<bool, WriteError>> {
        Box::pin(async move {
            let key = self.key_of(row)?;
            let Some(m) = E::find().filter(key).one(&**tx).await? else {
                return Ok(false);
            };
            Ok(tx.delete(m.into_active_model()).await? > 0)
        })
    }

    fn run_action<'a>(
        &'a self,
        name: &'a str,
        tx: &'a Arc<Tx>,
        scope: Condition,
        limit: u64,
    ) -> BoxFuture<'a, Result<ActionDone, WriteError>> {
        Box::pin(async move {
            let action = self
                .view
                .actions
                .iter()
                .find(|a| a.name == name)
                .ok_or(WriteError::NotFound)?;
            let mut q = self.find_locked(tx, scope);
            for k in &self.meta().primary_key {
                if let Some(col) = query::column::<E>(k) {
                    q = q.order_by(col, Order::Asc);
                }
            }
            let models = q.limit(limit).all(&***tx).await?;
            let before: Vec<Row> = models.iter().map(|m| self.whole_row(m)).collect();
            let message = (action.run)(tx.clone(), models)
                .await
                .map_err(|e| WriteError::Action(e.to_string()))?;
            // What the action changed, row by row, for the log: the rows
            // read again in one query, in the same transaction.
            let keys: Vec<Json> = before.iter().map(|b| json_key(self.meta(), b)).collect();
            let cond = self
                .keys_condition(&keys)
                .map_err(|e| WriteError::Fields(vec![e]))?;
            let after: std::collections::HashMap<String, Row> = E::find()
                .filter(cond)
                .all(&***tx)
                .await?
                .iter()
                .map(|m| {
                    let row = self.whole_row(m);
                    (json_key(self.meta(), &row).to_string(), row)
                })
                .collect();
            let mut changed = Vec::new();
            for (b, key) in before.into_iter().zip(&keys) {
                let a = after.get(&key.to_string()).cloned().unwrap_or_default();
                if a != b {
                    changed.push((b, a));
                }
            }
            Ok((message, changed))
        })
    }
}

/// A row's key as JSON: the value, or an array for composite keys.
pub(crate) fn json_key(meta: &ModelMeta, row: &Row) -> Json {
    let mut parts: Vec<Json> = meta
        .primary_key
        .iter()
        .map(|k| row.get(k).cloned().unwrap_or(Json::Null))
        .collect();
    if parts.len() == 1 {
        parts.pop().unwrap_or(Json::Null)
    } else {
        Json::Array(parts)
    }
}
