//! Password hashing with scrypt (N = 2^17, r = 8, p = 1) as PHC strings,
//! run off the async threads; verification compares in constant time and
//! uses the parameters stored in the hash, so old hashes keep working.
//!
//! Each hash takes 128 MiB while it runs, so the async functions take a
//! turn first: at most `password.max_concurrent` run at once in the
//! process (2: 256 MiB), at most `password.max_waiting` wait, and a
//! password longer than `password.max_length` bytes is refused before any
//! work — a burst of sign-ins costs bounded memory, not an out-of-memory
//! kill. [`verify_unknown`] costs what a verify costs, for names that have
//! no account (so the time taken does not tell which names exist).
//!
//! ```no_run
//! # async fn doc() -> Result<(), phial_core::password::PasswordError> {
//! use phial_core::password;
//! let hash = password::hash("correct horse").await?;
//! assert!(password::verify("correct horse", &hash).await?);
//! # Ok(()) }
//! ```

use scrypt::password_hash::phc::PasswordHash;
use scrypt::password_hash::{PasswordHasher, PasswordVerifier};
use scrypt::{Params, Scrypt};

/// log2 of scrypt's N.
pub const LOG_N: u8 = 17;
/// scrypt's r.
pub const R: u32 = 8;
/// scrypt's p.
pub const P: u32 = 1;

/// Hashing or verifying failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Too many hashes are running and waiting: try again shortly (a 503).
    #[error("too many passwords are being checked right now; try again in a few seconds")]
    Busy,
    /// The password is longer than `password.max_length`.
    #[error("the password is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The stored hash is not a valid scrypt PHC string.
    #[error("the stored password hash is not a valid scrypt PHC string: {0}")]
    MalformedHash(String),
    /// scrypt itself failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The blocking task was cancelled.
    #[error("password hashing task did not finish: {0}")]
    Task(String),
}

impl From<PasswordError> for crate::HttpError {
    fn from(e: PasswordError) -> Self {
        let status = match e {
            PasswordError::Busy => http::StatusCode::SERVICE_UNAVAILABLE,
            PasswordError::TooLong { .. } => http::StatusCode::UNPROCESSABLE_ENTITY,
            _ => http::StatusCode::INTERNAL_SERVER_ERROR,
        };
        crate::HttpError::new(status, e.to_string())
    }
}

fn hasher() -> Scrypt {
    Scrypt::new_with_params(
        Params::new(LOG_N, R, P).expect("N = 2^17, r = 8, p = 1 are valid scrypt parameters"),
    )
}

/// Hashes on the calling thread (blocks for ~0.1-0.5 s), outside the
/// process's turns: for the CLI and tests, not for request handlers.
pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Verifies on the calling thread. `Ok(false)` for a wrong password.
pub fn verify_blocking(password: &str, hash: &str) -> Result<bool, PasswordError> {
    let parsed =
        PasswordHash::new(hash).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
    if parsed.algorithm.as_str() != "scrypt" {
        return Err(PasswordError::MalformedHash(format!(
            "algorithm `{}` is not scrypt",
            parsed.algorithm
        )));
    }
    match hasher().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(scrypt::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(PasswordError::MalformedHash(e.to_string())),
    }
}

/// Hashes a password on a blocking thread, in its turn (see the module
/// docs).
pub async fn hash(password: &str) -> Result<String, PasswordError> {
    check_length(password)?;
    let _turn = gate::turn().await?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?
}

/// Verifies a password on a blocking thread, in its turn (see the module
/// docs).
pub async fn verify(password: &str, hash: &str) -> Result<bool, PasswordError> {
    check_length(password)?;
    let _turn = gate::turn().await?;
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?
}

/// What a verify costs, for a name with no account: the same work as
/// [`verify`] against a real hash, and always `Ok(false)`.
///
/// ```no_run
/// # async fn doc() {
/// assert!(!phial_core::password::verify_unknown("guess").await.unwrap());
/// # }
/// ```
pub async fn verify_unknown(password: &str) -> Result<bool, PasswordError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = match DUMMY.get() {
        Some(h) => h.clone(),
        None => {
            let made = hash("phial: a password no account has").await?;
            DUMMY.get_or_init(|| made).clone()
        }
    };
    verify(password, &dummy).await.map(|_| false)
}

fn check_length(password: &str) -> Result<(), PasswordError> {
    let max = gate::max_length();
    if password.len() > max {
        return Err(PasswordError::TooLong { max });
    }
    Ok(())
}

/// Sets the process's limits (the app does it from `[password]` when it
/// is built; the last app built wins).
pub fn configure(cfg: &crate::config::PasswordConfig) {
    gate::configure(cfg.max_concurrent, cfg.max_waiting, cfg.max_length);
}

/// Hashes running and waiting in this process now.
pub fn load() -> (usize, usize) {
    gate::load()
}

mod gate {
    //! The process's turns for hashing: a semaphore (how many run) and a
    //! count of waiters (how many may wait).

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{LazyLock, Mutex};
    use std::time::Duration;

    use tokio::sync::{Semaphore, SemaphorePermit};

    use super::PasswordError;

    struct Gate {
        turns: Semaphore,
        size: Mutex<usize>,
        max_waiting: AtomicUsize,
        waiting: AtomicUsize,
        max_length: AtomicUsize,
    }

    static GATE: LazyLock<Gate> = LazyLock::new(|| {
        let d = crate::config::PasswordConfig::default();
        Gate {
            turns: Semaphore::new(d.max_concurrent.max(1)),
            size: Mutex::new(d.max_concurrent.max(1)),
            max_waiting: AtomicUsize::new(d.max_waiting),
            waiting: AtomicUsize::new(0),
            max_length: AtomicUsize::new(d.max_length),
        }
    });

    /// Longest wait for a turn before the caller is told to come back.
    const WAIT: Duration = Duration::from_secs(30);

    pub(super) fn configure(max_concurrent: usize, max_waiting: usize, max_length: usize) {
        let g = &*GATE;
        let want = max_concurrent.max(1);
        let mut size = g.size.lock().unwrap_or_else(|p| p.into_inner());
        if want > *size {
            g.turns.add_permits(want - *size);
            *size = want;
        } else if want < *size {
            *size -= g.turns.forget_permits(*size - want);
        }
        g.max_waiting.store(max_waiting, Ordering::Relaxed);
        g.max_length.store(max_length.max(1), Ordering::Relaxed);
    }

    pub(super) fn max_length() -> usize {
        GATE.max_length.load(Ordering::Relaxed)
    }

    pub(super) fn load() -> (usize, usize) {
        let g = &*GATE;
        let size = *g.size.lock().unwrap_or_else(|p| p.into_inner());
        (
            size.saturating_sub(g.turns.available_permits()),
            g.waiting.load(Ordering::Relaxed),
        )
    }

    pub(super) async fn turn() -> Result<SemaphorePermit<'static>, PasswordError> {
        let g = &*GATE;
        if let Ok(p) = g.turns.try_acquire() {
            return Ok(p);
        }
        if g.waiting.fetch_add(1, Ordering::AcqRel) >= g.max_waiting.load(Ordering::Relaxed) {
            g.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(PasswordError::Busy);
        }
        let turn = tokio::time::timeout(WAIT, g.turns.acquire()).await;
        g.waiting.fetch_sub(1, Ordering::AcqRel);
        match turn {
            Ok(Ok(p)) => Ok(p),
            _ => Err(PasswordError::Busy),
        }
    }
}

/// Whether a stored hash uses weaker parameters than today's, so it should
/// be re-hashed at the next successful login.
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    match Params::try_from(&parsed) {
        Ok(p) => p.log_n() < LOG_N || p.r() < R || p.p() < P,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_reject() {
        let h = hash_blocking("s3cret").unwrap();
        assert!(h.starts_with("$scrypt$ln=17,r=8,p=1$"), "{h}");
        assert!(verify_blocking("s3cret", &h).unwrap());
        assert!(!verify_blocking("wrong", &h).unwrap());
        assert!(!needs_rehash(&h));
        assert!(matches!(
            verify_blocking("x", "not a hash"),
            Err(PasswordError::MalformedHash(_))
        ));
    }

    #[test]
    fn old_weaker_hashes_still_verify_and_ask_for_rehash() {
        // passlib's test vector: ln=16.
        let old = "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";
        assert!(verify_blocking("password", old).unwrap());
        assert!(needs_rehash(old));
    }
}
