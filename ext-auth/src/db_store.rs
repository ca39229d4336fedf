//! Sign-in records in the app's database (`session.store = "database"`):
//! the `phial_session` table (a key, a value, when it expires), created by
//! the migration this crate contributes. Expired rows are ignored when read
//! and deleted now and then by the writes. For apps without a shared cache
//! that run several nodes on one database.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use phial_core::session::{SessionStore, StoreError};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

/// The table.
pub(crate) const TABLE: &str = "phial_session";

/// Records in `phial_session` (see the module docs).
pub struct DbSessionStore {
    db: DatabaseConnection,
    next_sweep: Mutex<Instant>,
}

impl DbSessionStore {
    /// Records in `db`'s `phial_session` table.
    pub fn new(db: DatabaseConnection) -> Self {
        DbSessionStore {
            db,
            next_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Deletes expired rows, at most once a minute.
    async fn sweep(&self, now: i64) {
        {
            let mut next = self.next_sweep.lock().unwrap_or_else(|p| p.into_inner());
            if *next > Instant::now() {
                return;
            }
            *next = Instant::now() + Duration::from_secs(60);
        }
        let q = Query::delete()
            .from_table(Alias::new(TABLE))
            .and_where(Expr::col(Alias::new("expires_at")).lte(now))
            .to_owned();
        if let Err(e) = self.db.execute(&q).await {
            tracing::warn!("could not delete expired sign-in records: {e}");
        }
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError {
        store: "database",
        message: e.to_string(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn until(ttl: Duration) -> i64 {
    now().saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64)
}

fn text(value: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(value).map_err(|_| err("the database store keeps text values only"))
}

fn upsert(key: &str, value: String, expires: i64) -> sea_orm::sea_query::InsertStatement {
    Query::insert()
        .into_table(Alias::new(TABLE))
        .columns([
            Alias::new("key"),
            Alias::new("value"),
            Alias::new("expires_at"),
        ])
        .values_panic([key.into(), value.into(), expires.into()])
        .on_conflict(
            OnConflict::column(Alias::new("key"))
                .update_columns([Alias::new("value"), Alias::new("expires_at")])
                .to_owned(),
        )
        .to_owned()
}

impl SessionStore for DbSessionStore {
    fn kind(&self) -> &'static str {
        "database"
    }

    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let q = Query::select()
            .columns([Alias::new("key"), Alias::new("value")])
            .from(Alias::new(TABLE))
            .and_where(Expr::col(Alias::new("key")).is_in(keys.iter().cloned()))
            .and_where(Expr::col(Alias::new("expires_at")).gt(now()))
            .to_owned();
        let rows = self.db.query_all(&q).await.map_err(err)?;
        let mut found = std::collections::HashMap::new();
        for row in rows {
            let k: String = row.try_get("", "key").map_err(err)?;
            let v: String = row.try_get("", "value").map_err(err)?;
            found.insert(k, v.into_bytes());
        }
        Ok(keys.iter().map(|k| found.remove(k)).collect())
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let q = upsert(key, text(value)?, until(ttl));
        self.db.execute(&q).await.map_err(err)?;
        self.sweep(now()).await;
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<Vec<u8>, StoreError> {
        let value = text(value)?;
        let key = key.to_owned();
        let (now, expires) = (now(), until(ttl));
        let current = self
            .db
            .transaction::<_, String, DbErr>(|tx| {
                Box::pin(async move {
                    // An expired row is no row.
                    let gone = Query::delete()
                        .from_table(Alias::new(TABLE))
                        .and_where(Expr::col(Alias::new("key")).eq(key.as_str()))
                        .and_where(Expr::col(Alias::new("expires_at")).lte(now))
                        .to_owned();
                    tx.execute(&gone).await?;
                    let insert = Query::insert()
                        .into_table(Alias::new(TABLE))
                        .columns([
                            Alias::new("key"),
                            Alias::new("value"),
                            Alias::new("expires_at"),
                        ])
                        .values_panic([key.as_str().into(), value.into(), expires.into()])
                        // Keeps the row there: the key set to itself (MySQL has
                        // no portable "do nothing").
                        .on_conflict(
                            OnConflict::column(Alias::new("key"))
                                .update_column(Alias::new("key"))
                                .to_owned(),
                        )
                        .to_owned();
                    tx.execute(&insert).await?;
                    let renew = Query::update()
                        .table(Alias::new(TABLE))
                        .value(Alias::new("expires_at"), expires)
                        .and_where(Expr::col(Alias::new("key")).eq(key.as_str()))
                        .to_owned();
                    tx.execute(&renew).await?;
                    let read = Query::select()
                        .column(Alias::new("value"))
                        .from(Alias::new(TABLE))
                        .and_where(Expr::col(Alias::new("key")).eq(key.as_str()))
                        .to_owned();
                    let row = tx
                        .query_one(&read)
                        .await?
                        .ok_or_else(|| DbErr::RecordNotFound("the row just written".into()))?;
                    row.try_get::<String>("", "value")
                })
            })
            .await
            .map_err(err)?;
        Ok(current.into_bytes())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let q = Query::delete()
            .from_table(Alias::new(TABLE))
            .and_where(Expr::col(Alias::new("key")).is_in(keys.iter().cloned()))
            .to_owned();
        self.db.execute(&q).await.map_err(err)?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let q = Query::select()
            .column(Alias::new("key"))
            .from(Alias::new(TABLE))
            .and_where(Expr::col(Alias::new("key")).eq(""))
            .to_owned();
        self.db.query_one(&q).await.map_err(|e| {
            err(format!(
                "{e} (the `{TABLE}` table is made by phial::auth's migration: run `db upgrade`)"
            ))
        })?;
        Ok(())
    }
}
