//! SQLite: an exclusive lock on a file beside the database file, taken with
//! `try_lock` polled until the timeout. The holder writes its process id
//! in it for those who wait.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{poll_until, waiting};
use crate::error::MigrateError;

/// The lock file beside a SQLite database file (`app.db` →
/// `app.migrate-lock`); `None` for an in-memory database, which only one
/// process can see.
pub fn lock_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:")
        .then(|| PathBuf::from(path).with_extension("migrate-lock"))
}

/// Takes the lock file at `path` within `timeout` (the file stays locked
/// while the returned handle is open), or fails naming it.
pub(super) async fn acquire(
    path: PathBuf,
    timeout: Duration,
) -> Result<std::fs::File, MigrateError> {
    let shown = path.display().to_string();
    let file = tokio::task::spawn_blocking({
        let path = path.clone();
        move || {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)
        }
    })
    .await
    .map_err(|e| MigrateError::Lock(e.to_string()))?
    .map_err(|e| MigrateError::Lock(format!("cannot open the lock file `{shown}`: {e}")))?;
    // `try_lock` never blocks: no need to leave the runtime for it.
    let got = poll_until(
        timeout,
        || {
            std::future::ready(match file.try_lock() {
                Ok(()) => Ok(true),
                Err(std::fs::TryLockError::WouldBlock) => Ok(false),
                Err(std::fs::TryLockError::Error(e)) => Err(MigrateError::Lock(format!(
                    "cannot lock the lock file `{shown}`: {e}"
                ))),
            })
        },
        || async { waiting(timeout, &holder(&path)) },
    )
    .await?;
    if !got {
        return Err(MigrateError::LockTimeout {
            lock: format!("lock file `{shown}`"),
            holder: holder(&path),
            waited_secs: timeout.as_secs(),
        });
    }
    sign(&file);
    Ok(file)
}

/// Writes who holds the lock into the lock file, for the nodes that wait.
fn sign(file: &std::fs::File) {
    use std::io::Write;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let note = format!(
        "process {} (migrating since unix time {since})\n",
        std::process::id()
    );
    let _ = file
        .set_len(0)
        .and_then(|()| (&*file).write_all(note.as_bytes()));
}

/// Empties the lock file and releases the lock (closing the file does).
pub(super) fn release(file: std::fs::File) {
    let _ = file.set_len(0);
    drop(file);
}

fn holder(path: &Path) -> String {
    let note = std::fs::read_to_string(path).unwrap_or_default();
    match note.trim() {
        "" => "another process or handle (it wrote nothing in the lock file)".to_owned(),
        note => note.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_sits_beside_the_database() {
        assert_eq!(
            lock_file("sqlite:///srv/app/instance/app.db?mode=rwc"),
            Some(PathBuf::from("/srv/app/instance/app.migrate-lock"))
        );
        assert_eq!(lock_file("sqlite::memory:"), None);
        assert_eq!(lock_file("postgres://h/db"), None);
    }
}
