//! MySQL/MariaDB: `GET_LOCK`, whose names are server-wide, so the name is
//! derived from the database's. Its answer is read: 1 is the lock, 0 a
//! timeout, NULL an error, and only 1 lets the migrations run.

use std::time::Duration;

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement,
};

use super::{scalar, waiting};
use crate::error::MigrateError;

const MYSQL_PREFIX: &str = "phial_migrate:";
/// `GET_LOCK` refuses longer names.
const MYSQL_NAME_MAX: usize = 64;
/// The MySQL/MariaDB lock name for `database`: `phial_migrate:` and the
/// name, or, when that passes `GET_LOCK`'s 64 characters, its first
/// characters and a stable hash of the whole name.
pub fn lock_name(database: &str) -> String {
    let plain = format!("{MYSQL_PREFIX}{database}");
    if plain.chars().count() <= MYSQL_NAME_MAX {
        return plain;
    }
    let keep = MYSQL_NAME_MAX - MYSQL_PREFIX.len() - 17; // `~` and 16 hex digits
    let head: String = database.chars().take(keep).collect();
    format!("{MYSQL_PREFIX}{head}~{:016x}", fnv1a(database.as_bytes()))
}

/// FNV-1a, 64 bits: stable across Rust releases, which nodes built by
/// different compilers must agree on (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The MySQL/MariaDB lock name for the database `conn` is connected to.
pub async fn lock_name_of(conn: &impl ConnectionTrait) -> Result<String, DbErr> {
    let database: Option<String> = scalar(conn, "SELECT DATABASE()", []).await?;
    Ok(lock_name(database.as_deref().unwrap_or("")))
}

/// `GET_LOCK` answers 1 (held), 0 (timed out) or NULL (an error); only 1
/// lets the migrations run.
pub(super) async fn acquire(
    conn: &DatabaseConnection,
    name: &str,
    timeout: Duration,
) -> Result<(), MigrateError> {
    let get_lock = |secs: u64| {
        let sql = "SELECT CAST(GET_LOCK(?, ?) AS SIGNED)";
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        scalar::<Option<i64>>(conn, sql, [name.into(), secs.into()])
    };
    let mut got = get_lock(0).await?;
    if got == Some(0) && !timeout.is_zero() {
        waiting(timeout, &holder(conn, name).await);
        // Whole seconds, rounded up: the wait is at least what was asked.
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        got = get_lock(secs).await?;
    }
    match got {
        Some(1) => Ok(()),
        Some(_) => Err(MigrateError::LockTimeout {
            lock: format!("MySQL/MariaDB lock `{name}`"),
            holder: holder(conn, name).await,
            waited_secs: timeout.as_secs(),
        }),
        None => Err(MigrateError::Lock(format!(
            "GET_LOCK('{name}') failed on the server (it returned NULL, e.g. the connection was \
             killed while waiting); nothing was applied: run it again"
        ))),
    }
}

/// Who holds `name`: `IS_USED_LOCK` gives the connection id, the process
/// list its user, host and what it is doing (rows of other users need the
/// PROCESS privilege).
async fn holder(conn: &DatabaseConnection, name: &str) -> String {
    let sql = "SELECT CAST(IS_USED_LOCK(?) AS SIGNED)";
    let id = match scalar::<Option<i64>>(conn, sql, [name.into()]).await {
        Ok(Some(id)) => id,
        Ok(None) => return "nobody any more (it was released as the wait ran out)".to_owned(),
        Err(e) => return format!("another connection (IS_USED_LOCK failed: {e})"),
    };
    let sql = "SELECT USER, HOST, DB, COMMAND, CAST(TIME AS SIGNED), STATE \
               FROM information_schema.PROCESSLIST WHERE ID = ?";
    let stmt = Statement::from_sql_and_values(DbBackend::MySql, sql, [id.into()]);
    let details = match conn.query_one_raw(stmt).await {
        Ok(Some(row)) => {
            let text = |i| row.try_get_by_index::<Option<String>>(i).ok().flatten();
            let mut facts = Vec::new();
            for (label, i) in [("user", 0), ("host", 1), ("database", 2)] {
                if let Some(v) = text(i).filter(|v| !v.is_empty()) {
                    facts.push(format!("{label} `{v}`"));
                }
            }
            let secs: Option<i64> = row.try_get_by_index(4).ok().flatten();
            if let (Some(command), Some(secs)) = (text(3), secs) {
                let state = text(5).filter(|s| !s.is_empty());
                let state = state.map(|s| format!(": {s}")).unwrap_or_default();
                facts.push(format!("`{command}{state}` for {secs}s"));
            }
            facts.join(", ")
        }
        Ok(None) => "details hidden from this user (needs the PROCESS privilege)".to_owned(),
        Err(e) => format!("the process list cannot be read: {e}"),
    };
    format!("connection {id} ({details}); if it is stuck, end it with `KILL {id}`")
}

/// Releases `name`: `Some(why)` when this connection did not hold it.
pub(super) async fn release(
    conn: &DatabaseConnection,
    name: &str,
) -> Result<Option<String>, DbErr> {
    let sql = "SELECT CAST(RELEASE_LOCK(?) AS SIGNED)";
    Ok(
        match scalar::<Option<i64>>(conn, sql, [name.into()]).await? {
            Some(1) => None,
            Some(_) => Some(format!("`{name}` is held by another connection")),
            None => Some(format!("`{name}` was not held by anyone")),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_are_per_database_and_fit_get_lock() {
        assert_eq!(lock_name("app"), "phial_migrate:app");
        let long_a = "a".repeat(64);
        let long_b = format!("{}b", "a".repeat(63));
        let (a, b) = (lock_name(&long_a), lock_name(&long_b));
        assert_ne!(a, b);
        assert!(
            a.chars().count() <= 64 && b.chars().count() <= 64,
            "{a} {b}"
        );
        assert!(a.starts_with("phial_migrate:aaaa"), "{a}");
        let unicode = "é".repeat(60);
        assert_eq!(lock_name(&unicode).chars().count(), 64);
        // Nodes built at different times must agree: the hash is pinned.
        assert_eq!(fnv1a(b"phial"), 0x4381_fb6b_e880_b3c9);
    }
}
