//! Password hashing with scrypt (N = 2^17, r = 8, p = 1) as PHC strings,
//! run off the async threads; verification compares in constant time and
//! uses the parameters stored in the hash, so old hashes keep working.
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

fn hasher() -> Scrypt {
    Scrypt::new_with_params(
        Params::new(LOG_N, R, P).expect("N = 2^17, r = 8, p = 1 are valid scrypt parameters"),
    )
}

/// Hashes on the calling thread (blocks for ~0.1-0.5 s).
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

/// Hashes a password on a blocking thread.
pub async fn hash(password: &str) -> Result<String, PasswordError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?
}

/// Verifies a password on a blocking thread.
pub async fn verify(password: &str, hash: &str) -> Result<bool, PasswordError> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?
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
