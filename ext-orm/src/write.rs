//! Writes that publish to the app's change feed: `db.insert(..)`,
//! `db.update(..)`, `db.delete(..)`, and transactions whose changes are
//! published only once they commit.
//!
//! ```no_run
//! # use phial_orm::{Db, OrmError};
//! # async fn doc<A>(db: Db, a: A, b: A) -> Result<(), OrmError>
//! # where A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send + 'static,
//! #       <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A> + Clone,
//! # {
//! db.transaction(async |tx| {
//!     tx.insert(a).await?;
//!     tx.insert(b).await?; // an error here rolls back both, and nothing is published
//!     Ok::<_, OrmError>(())
//! })
//! .await
//! # }
//! ```

use std::ops::Deref;
use std::sync::Mutex;

use phial_core::changes::{Change, Operation};
use sea_orm::sea_query::{Value, ValueTuple};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, TransactionTrait,
};

use crate::db::Db;
use crate::error::OrmError;

/// The table an entity maps to.
pub(crate) fn table_of<E: EntityTrait>() -> String {
    E::default().table_name().to_owned()
}

fn value_json(v: &Value) -> serde_json::Value {
    sea_orm::sea_query::value::sea_value_to_json_value(v)
}

/// A primary key as JSON: the value, or an array for composite keys.
pub(crate) fn key_json(t: &ValueTuple) -> serde_json::Value {
    match t {
        ValueTuple::One(v) => value_json(v),
        ValueTuple::Two(a, b) => serde_json::Value::Array(vec![value_json(a), value_json(b)]),
        ValueTuple::Three(a, b, c) => {
            serde_json::Value::Array(vec![value_json(a), value_json(b), value_json(c)])
        }
        ValueTuple::Many(vs) => serde_json::Value::Array(vs.iter().map(value_json).collect()),
    }
}

fn change_for<A: ActiveModelTrait>(op: Operation, am: &A) -> Change {
    let keys = am.get_primary_key_value().map(|k| key_json(&k));
    Change::new(table_of::<A::Entity>(), op, keys)
}

async fn insert_on<C, A>(
    conn: &C,
    model: A,
) -> Result<(<A::Entity as EntityTrait>::Model, Change), OrmError>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Clone,
{
    let saved = model.insert(conn).await?;
    let change = change_for(Operation::Insert, &saved.clone().into_active_model());
    Ok((saved, change))
}

async fn update_on<C, A>(
    conn: &C,
    model: A,
) -> Result<(<A::Entity as EntityTrait>::Model, Change), OrmError>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let change = change_for(Operation::Update, &model);
    Ok((model.update(conn).await?, change))
}

async fn delete_on<C, A>(conn: &C, model: A) -> Result<(u64, Change), OrmError>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + ActiveModelBehavior + Send,
{
    let change = change_for(Operation::Delete, &model);
    Ok((model.delete(conn).await?.rows_affected, change))
}

impl Db {
    /// Inserts a row and publishes the change.
    pub async fn insert<A>(&self, model: A) -> Result<<A::Entity as EntityTrait>::Model, OrmError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Clone,
    {
        // Before the row is written: a refusal saves nothing.
        self.changes()
            .prepare(&Change::insert(table_of::<A::Entity>(), []))
            .await?;
        let (saved, change) = insert_on(self.conn(), model).await?;
        self.changes().publish(change).await;
        Ok(saved)
    }

    /// Updates a row (the set columns) and publishes the change.
    pub async fn update<A>(&self, model: A) -> Result<<A::Entity as EntityTrait>::Model, OrmError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        self.changes()
            .prepare(&change_for(Operation::Update, &model))
            .await?;
        let (saved, change) = update_on(self.conn(), model).await?;
        self.changes().publish(change).await;
        Ok(saved)
    }

    /// Deletes a row and publishes the change; returns the rows deleted.
    pub async fn delete<A>(&self, model: A) -> Result<u64, OrmError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
    {
        self.changes()
            .prepare(&change_for(Operation::Delete, &model))
            .await?;
        let (n, change) = delete_on(self.conn(), model).await?;
        if n > 0 {
            self.changes().publish(change).await;
        }
        Ok(n)
    }

    /// Publishes a change for a write made some other way (raw SQL, an
    /// update by filter). Call [`prepare`](phial_core::changes::ChangeFeed::prepare)
    /// on `db.changes()` before such a write so a shared cache can refuse
    /// it when it cannot be told.
    pub async fn publish(&self, change: Change) {
        self.changes().publish(change).await;
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back
    /// when it returns `Err` (or panics), and publishes the changes it
    /// recorded only after the commit.
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&Tx) -> Result<T, E>,
        E: From<OrmError>,
    {
        let tx = self.begin().await.map_err(E::from)?;
        match f(&tx).await {
            Ok(value) => {
                tx.commit(self.changes()).await.map_err(E::from)?;
                Ok(value)
            }
            Err(e) => {
                tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Starts a transaction; [`Tx::commit`] publishes its changes.
    pub async fn begin(&self) -> Result<Tx, OrmError> {
        Ok(Tx {
            txn: self.conn().begin().await?,
            pending: Mutex::new(Vec::new()),
        })
    }
}

/// A transaction in progress (see [`Db::transaction`]). Derefs to sea-orm's
/// `DatabaseTransaction` for queries; its write helpers record changes to
/// publish after the commit.
pub struct Tx {
    txn: DatabaseTransaction,
    pending: Mutex<Vec<Change>>,
}

impl Deref for Tx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl Tx {
    /// Commits, then publishes the recorded changes to `feed`. The feed's
    /// guards are asked first: a refusal rolls back, nothing saved.
    pub async fn commit(self, feed: &phial_core::changes::ChangeFeed) -> Result<(), OrmError> {
        let Tx { txn, pending } = self;
        let pending = pending.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Err(refused) = feed.prepare_all(&pending).await {
            if let Err(e) = txn.rollback().await {
                tracing::warn!("rollback failed (the connection is discarded): {e}");
            }
            return Err(refused.into());
        }
        txn.commit().await?;
        feed.publish_all(pending).await;
        Ok(())
    }

    /// Rolls back; nothing is published. (Dropping a `Tx` rolls back too.)
    pub async fn rollback(self) {
        if let Err(e) = self.txn.rollback().await {
            tracing::warn!("rollback failed (the connection is discarded): {e}");
        }
    }

    /// Records a change to publish after the commit.
    pub fn record(&self, change: Change) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(change);
    }

    /// Inserts a row.
    pub async fn insert<A>(&self, model: A) -> Result<<A::Entity as EntityTrait>::Model, OrmError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Clone,
    {
        let (saved, change) = insert_on(&self.txn, model).await?;
        self.record(change);
        Ok(saved)
    }

    /// Updates a row.
    pub async fn update<A>(&self, model: A) -> Result<<A::Entity as EntityTrait>::Model, OrmError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        let (saved, change) = update_on(&self.txn, model).await?;
        self.record(change);
        Ok(saved)
    }

    /// Deletes a row; returns the rows deleted.
    pub async fn delete<A>(&self, model: A) -> Result<u64, OrmError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
    {
        let (n, change) = delete_on(&self.txn, model).await?;
        if n > 0 {
            self.record(change);
        }
        Ok(n)
    }
}
