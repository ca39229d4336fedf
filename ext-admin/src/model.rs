//! A model view with its entity type erased: what the pages call to read
//! and write rows as JSON maps. Every write runs in a transaction with its
//! audit entry, goes through `Db` (published after the commit: caches,
//! ETags and live pages follow) and is checked field by field by the model
//! metadata, the same checks REST makes.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use phial_orm::meta::json::{self, FieldError, WriteMode};
use phial_orm::meta::{FieldKind, ModelMeta, query};
use phial_orm::{Db, OrmError};
use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    DbErr, IntoActiveModel, Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Map, Value as Json};

use crate::audit::{self, Who};
use crate::view::{AdminEntity, ModelView, ViewSpec};

/// A row as the admin shows it: visible fields by name.
pub(crate) type Row = Map<String, Json>;

/// A filter clause, checked against the field's kind by the list page.
#[derive(Debug, Clone)]
pub(crate) struct Clause {
    pub(crate) field: String,
    pub(crate) op: Op,
    pub(crate) value: Json,
}

/// How a clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ge,
    Le,
    Lt,
    Contains,
}

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

/// The version of a row an edit form carries: a hash of what the admin
/// shows of it (any change to a visible field changes it).
pub(crate) fn version_of(row: &Row) -> String {
    let bytes = serde_json::to_vec(row).unwrap_or_default();
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// One model, entity type erased.
pub(crate) trait AdminModel: Send + Sync {
    fn spec(&self) -> &ViewSpec;
    /// Bulk actions: (name, label).
    fn actions(&self) -> Vec<(String, String)>;
    /// Filters and search as one condition.
    fn condition(&self, clauses: &[Clause], q: Option<&str>) -> Result<Condition, FieldError>;
    /// The row with this key.
    fn key_condition(&self, key: &Json) -> Result<Condition, FieldError>;
    /// Rows with any of these keys.
    fn keys_condition(&self, keys: &[Json]) -> Result<Condition, FieldError>;
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
    /// Every field error `values` has, writing nothing.
    fn validate(&self, values: &Json, creating: bool) -> Vec<FieldError>;
    fn create<'a>(
        &'a self,
        db: &'a Db,
        who: &'a Who,
        values: Json,
    ) -> BoxFuture<'a, Result<Row, WriteError>>;
    /// Changes the row in `scope`; with `version`, only if it is still the
    /// one the form was loaded from. Returns (before, after).
    fn update<'a>(
        &'a self,
        db: &'a Db,
        who: &'a Who,
        scope: Condition,
        values: Json,
        version: Option<String>,
        action: &'a str,
    ) -> BoxFuture<'a, Result<(Row, Row), WriteError>>;
    /// Deletes the rows in `scope` (at most `limit`); returns them.
    fn delete<'a>(
        &'a self,
        db: &'a Db,
        who: &'a Who,
        scope: Condition,
        limit: u64,
        action: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Row>, WriteError>>;
    /// Inserts a row as it was (key included): a revert of a delete.
    fn restore<'a>(
        &'a self,
        db: &'a Db,
        who: &'a Who,
        row: Row,
    ) -> BoxFuture<'a, Result<Row, WriteError>>;
    /// Runs a bulk action on the rows in `scope`; returns its message and
    /// how many rows it changed.
    fn run_action<'a>(
        &'a self,
        name: &'a str,
        db: &'a Db,
        who: &'a Who,
        scope: Condition,
        limit: u64,
    ) -> BoxFuture<'a, Result<(String, usize), WriteError>>;
}

/// A view ready to serve: the spec plus what writes use.
pub(crate) struct Mounted<E: AdminEntity> {
    view: ModelView<E>,
    /// The metadata forms write through: the view's read-only fields too.
    write_meta: ModelMeta,
}

impl<E: AdminEntity> Mounted<E> {
    pub(crate) fn erased(view: ModelView<E>) -> Arc<dyn AdminModel> {
        let ro: Vec<&str> = view.spec.read_only.iter().map(String::as_str).collect();
        let write_meta = view.spec.meta.clone().read_only(ro.as_slice());
        Arc::new(Mounted { view, write_meta })
    }

    fn meta(&self) -> &ModelMeta {
        &self.view.spec.meta
    }

    /// Inserts a row and its audit entry in one transaction.
    async fn insert_logged(
        &self,
        db: &Db,
        who: &Who,
        am: E::ActiveModel,
        action: &str,
    ) -> Result<Row, WriteError> {
        db.transaction(async |tx| {
            let saved = tx.insert(am).await?;
            let after = self.row(&saved);
            audit::record(&**tx, who, self.spec(), &after, action, &Row::new(), &after).await?;
            Ok::<_, WriteError>(after)
        })
        .await
    }

    fn row(&self, model: &E::Model) -> Row {
        json::to_json::<E>(self.meta(), model)
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

    fn actions(&self) -> Vec<(String, String)> {
        self.view
            .actions
            .iter()
            .map(|a| (a.name.clone(), a.label.clone()))
            .collect()
    }

    fn condition(&self, clauses: &[Clause], q: Option<&str>) -> Result<Condition, FieldError> {
        let mut cond = Condition::all();
        for c in clauses {
            let field = self
                .meta()
                .field(&c.field)
                .ok_or_else(|| unknown(&c.field))?;
            if c.op == Op::Contains {
                let col = query::column::<E>(&c.field).ok_or_else(|| unknown(&c.field))?;
                cond = cond.add(query::contains::<E>(
                    col,
                    c.value.as_str().unwrap_or_default(),
                ));
                continue;
            }
            if c.value.is_null() {
                let col = query::column::<E>(&c.field).ok_or_else(|| unknown(&c.field))?;
                cond = cond.add(col.is_null());
                continue;
            }
            let (col, v) = query::compare_value::<E>(field, &c.value)?;
            cond = cond.add(match c.op {
                Op::Eq => col.eq(v),
                Op::Ge => col.gte(v),
                Op::Le => col.lte(v),
                Op::Lt => col.lt(v),
                Op::Contains => unreachable!("handled above"),
            });
        }
        if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
            let mut any = Condition::any();
            for name in &self.view.spec.search {
                if let Some(col) = query::column::<E>(name) {
                    any = any.add(query::contains::<E>(col, q));
                }
            }
            cond = cond.add(any);
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
        Box::pin(async move {
            // COUNT over at most limit + 1 rows: bounded on any table size.
            let mut inner = E::find().filter(cond).select_only();
            inner = inner.expr(Expr::val(1)).limit(limit + 1);
            let inner = QuerySelect::query(&mut inner).to_owned();
            let outer = Query::select()
                .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
                .from_subquery(inner, Alias::new("bounded"))
                .to_owned();
            let backend = db.get_database_backend();
            let row = db.query_one_raw(backend.build(&outer)).await?;
            let n: i64 = match row {
                Some(r) => r.try_get("", "n")?,
                None => 0,
            };
            Ok(n.max(0) as u64)
        })
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

    fn create<'a>(
        &'a self,
        db: &'a Db,
        who: &'a Who,
        values: Json,
    ) -> BoxFuture<'a, Result<Row, WriteError>> {
        Box::pin(async move {
            let mut am = E::ActiveModel::default();
            json::apply::<E>(&self.write_meta, &mut am, &values, WriteMode::Create)
                .map_err(WriteError::Fields)?;
            self.insert_logged(db, who, am, "create").await
        })
    }

    fn update<'a>(
        &'a self,
        db: &'a Db,
        who: &'a Who,
        scope: Condition,
        values: Json,
        version: Option<String>,
        action: &'a str,
    ) -> BoxFuture<'a, Result<(Row, Row), WriteError>> {
        Box::pin(async move {
            db.transaction(async |tx| {
                let mut q = E::find().filter(scope);
                if backend_locks(&**tx) {
                    q = q.lock_exclusive();
                }
                let current = q.one(&**tx).await?.ok_or(WriteError::NotFound)?;
                let before = self.row(&current);
                if version.as_deref().is_some_and(|v| v != version_of(&before)) {
                    return Err(WriteError::Conflict(Box::new(before)));
                }
                let mut am = current.into_active_model();
                json::apply::<E>(&self.write_meta, &mut am, &values, WriteMode::Patch)
                    .map_err(WriteError::Fields)?;
                if !sea_orm::ActiveModelTrait::is_changed(&am) {
                    return Ok((before.clone(), before));
                }
                let saved = tx.update(am).await?;
                let after = self.row(&saved);
                audit::record(&**tx, who, self.spec(), &after, action, &before, &after).await?;
                Ok((before, after))
            })
            .await
        })
    }

    fn delete<'a>(
        &'a self,
        db: &'a Db,
        who: &'a Who,
        scope: Condition,
        limit: u64,
        action: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Row>, WriteError>> {
        Box::pin(async move {
            db.transaction(async |tx| {
                let mut q = E::find().filter(scope).limit(limit);
                if backend_locks(&**tx) {
                    q = q.lock_exclusive();
                }
                let rows = q.all(&**tx).await?;
                let mut gone = Vec::with_capacity(rows.len());
                for m in rows {
                    let before = self.row(&m);
                    tx.delete(m.into_active_model()).await?;
                    audit::record(
                        &**tx,
                        who,
                        self.spec(),
                        &before,
                        action,
                        &before,
                        &Row::new(),
                    )
                    .await?;
                    gone.push(before);
                }
                Ok::<_, WriteError>(gone)
            })
            .await
        })
    }

    fn restore<'a>(
        &'a self,
        db: &'a Db,
        who: &'a Who,
        row: Row,
    ) -> BoxFuture<'a, Result<Row, WriteError>> {
        Box::pin(async move {
            let mut am = E::ActiveModel::default();
            let mut errors = Vec::new();
            for (name, value) in &row {
                let (Some(field), Some(col)) = (self.meta().field(name), query::column::<E>(name))
                else {
                    continue;
                };
                if field.hidden || field.kind == FieldKind::Other {
                    continue;
                }
                let column_type = col.def().get_column_type().clone();
                match json::json_to_value(field, &column_type, value)
                    .and_then(|v| json::set_column::<E>(&mut am, col, v))
                {
                    Ok(()) => {}
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                return Err(WriteError::Fields(errors));
            }
            self.insert_logged(db, who, am, "restore").await
        })
    }

    fn run_action<'a>(
        &'a self,
        name: &'a str,
        db: &'a Db,
        who: &'a Who,
        scope: Condition,
        limit: u64,
    ) -> BoxFuture<'a, Result<(String, usize), WriteError>> {
        Box::pin(async move {
            let action = self
                .view
                .actions
                .iter()
                .find(|a| a.name == name)
                .ok_or(WriteError::NotFound)?;
            let models = E::find().filter(scope).limit(limit).all(db.conn()).await?;
            let before: Vec<Row> = models.iter().map(|m| self.row(m)).collect();
            let message = (action.run)(db.clone(), models)
                .await
                .map_err(|e| WriteError::Action(e.to_string()))?;
            // What the action changed, row by row, for the log: the rows
            // read again in one query.
            let keys: Vec<Json> = before.iter().map(|b| json_key(self.meta(), b)).collect();
            let cond = self
                .keys_condition(&keys)
                .map_err(|e| WriteError::Fields(vec![e]))?;
            let after: std::collections::HashMap<String, Row> = E::find()
                .filter(cond)
                .all(db.conn())
                .await?
                .iter()
                .map(|m| {
                    let row = self.row(m);
                    (json_key(self.meta(), &row).to_string(), row)
                })
                .collect();
            let mut changed = 0;
            for (b, key) in before.iter().zip(&keys) {
                let a = after.get(&key.to_string()).cloned().unwrap_or_default();
                if &a != b {
                    changed += 1;
                    audit::record(db.conn(), who, self.spec(), b, name, b, &a).await?;
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
