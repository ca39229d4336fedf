//! PostgreSQL: a session advisory lock, per database by nature (`pg_locks`
//! keys it by database), taken with `pg_try_advisory_lock` polled until the
//! timeout (a plain `pg_advisory_lock` would wait forever).

use std::time::Duration;

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement,
};

use super::{poll_until, scalar, waiting};
use crate::error::MigrateError;

/// Key of the PostgreSQL advisory lock ("phial" in ASCII). Advisory locks
/// are per database, so one key serves every database of a server.
pub const POSTGRES_KEY: i64 = 0x7068_6961_6c00;

/// Takes the lock within `timeout`, or fails naming its holder.
pub(super) async fn acquire(
    conn: &DatabaseConnection,
    timeout: Duration,
) -> Result<(), MigrateError> {
    let try_lock = format!("SELECT pg_try_advisory_lock({POSTGRES_KEY})");
    let got = poll_until(
        timeout,
        || scalar::<bool>(conn, &try_lock, []),
        || async { waiting(timeout, &holder(conn).await) },
    )
    .await?;
    if got {
        return Ok(());
    }
    let database: String = scalar(conn, "SELECT current_database()", []).await?;
    Err(MigrateError::LockTimeout {
        lock: format!("PostgreSQL advisory lock {POSTGRES_KEY} on database `{database}`"),
        holder: holder(conn).await,
        waited_secs: timeout.as_secs(),
    })
}

/// Who holds the advisory lock on this database, from `pg_locks` and
/// `pg_stat_activity` (which hide some columns of other users' sessions
/// from roles without `pg_read_all_stats`).
async fn holder(conn: &DatabaseConnection) -> String {
    let (high, low) = ((POSTGRES_KEY >> 32) as u32, POSTGRES_KEY as u32);
    let sql = format!(
        "SELECT l.pid, a.usename::text, a.application_name, host(a.client_addr), a.state, \
                date_trunc('second', a.state_change)::text, date_trunc('second', a.backend_start)::text \
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND l.classid = '{high}'::oid AND l.objid = '{low}'::oid AND l.objsubid = 1"
    );
    let row = match conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return "nobody any more (it was released as the wait ran out)".to_owned(),
        Err(e) => return format!("another session (pg_locks cannot be read: {e})"),
    };
    let pid: i32 = row.try_get_by_index(0).unwrap_or_default();
    let text = |i| row.try_get_by_index::<Option<String>>(i).ok().flatten();
    let mut facts = Vec::new();
    if let Some(user) = text(1) {
        facts.push(format!("user `{user}`"));
    }
    if let Some(app) = text(2).filter(|a| !a.is_empty()) {
        facts.push(format!("application `{app}`"));
    }
    if let Some(client) = text(3) {
        facts.push(format!("client {client}"));
    }
    match (text(4), text(5)) {
        (Some(state), Some(since)) => facts.push(format!("`{state}` since {since}")),
        _ => facts.push("state hidden from this role (needs pg_read_all_stats)".to_owned()),
    }
    if let Some(since) = text(6) {
        facts.push(format!("connected since {since}"));
    }
    format!(
        "PostgreSQL backend pid {pid} ({}); if it is stuck, end it with `SELECT pg_terminate_backend({pid})`",
        facts.join(", ")
    )
}

/// Releases the lock: `Some(why)` when this session did not hold it.
pub(super) async fn release(conn: &DatabaseConnection) -> Result<Option<String>, DbErr> {
    let sql = format!("SELECT pg_advisory_unlock({POSTGRES_KEY})");
    let released: bool = scalar(conn, &sql, []).await?;
    Ok((!released).then(|| "this session did not hold it".to_owned()))
}
