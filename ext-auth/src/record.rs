//! What a sign-in is made of, in the store and in the cookie.
//!
//! - A **record** per sign-in, under `{realm:user}:s:<id>`, with a time to
//!   live that is the idle timeout (renewed by use, at most once a minute).
//!   The signed cookie names it (`_auth`: realm → `user.id`); the id is 256
//!   random bits made at sign-in, so a cookie from before sign-in never
//!   names one (no fixation).
//! - An **epoch** per user, under `{realm:user}:e`: random text every
//!   record carries. "Sign out everywhere" replaces it, ending every record
//!   at once on every node. A missing epoch (expired, evicted) ends every
//!   record too: it never reads as "nothing changed".
//! - A **remember-me token** per remembered sign-in, under
//!   `{realm:user}:r:<selector>`, holding the hash of its validator; the
//!   cookie (`_remember`) holds both. Using it makes a new, not fresh,
//!   sign-in and a new validator; a wrong validator for a known selector
//!   (a stolen, already used token) deletes it.
//! - A **fingerprint** of the credentials (an HMAC of the password hash
//!   and the user) in records and tokens: a changed password ends them.
//!
//! The keys of one user share the `{realm:user}` hash tag (one Redis
//! Cluster slot, one round trip).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Random bytes as URL-safe text.
pub(crate) fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    B64.encode(buf)
}

/// A user id as it may sit in a key and a cookie: kept when it is plain
/// (letters, digits, `-`, `_`), hex otherwise (braces would break the hash
/// tag, dots the cookie's parts).
pub(crate) fn key_id(id: &str) -> String {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        id.to_owned()
    } else {
        format!("x{}", hex::encode(id))
    }
}

/// The user id back from [`key_id`].
pub(crate) fn user_id(key: &str) -> Option<String> {
    match key.strip_prefix('x') {
        Some(hex)
            if !hex.is_empty()
                && hex.len() % 2 == 0
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
                .collect();
            String::from_utf8(bytes?).ok()
        }
        _ => Some(key.to_owned()),
    }
}

/// The keys of one user in one realm.
pub(crate) struct UserKeys {
    tag: String,
}

impl UserKeys {
    pub(crate) fn new(realm: &str, key_id: &str) -> Self {
        UserKeys {
            tag: format!("{{{realm}:{key_id}}}"),
        }
    }

    pub(crate) fn record(&self, sid: &str) -> String {
        format!("{}:s:{sid}", self.tag)
    }

    pub(crate) fn epoch(&self) -> String {
        format!("{}:e", self.tag)
    }

    pub(crate) fn remember(&self, selector: &str) -> String {
        format!("{}:r:{selector}", self.tag)
    }
}

/// One sign-in, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The user's epoch when it was made.
    pub(crate) epoch: String,
    /// When it was made (seconds since the epoch).
    pub(crate) created: u64,
    /// When the password was last entered for it (0: from a token).
    pub(crate) fresh: u64,
    /// When a person last used it.
    pub(crate) seen: u64,
    /// The credentials' fingerprint.
    pub(crate) fp: String,
}

/// One remember-me token, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Remembered {
    pub(crate) epoch: String,
    /// SHA-256 of the validator, hex.
    pub(crate) hash: String,
    pub(crate) created: u64,
    pub(crate) fp: String,
}

/// The hash a token's validator is kept as.
pub(crate) fn validator_hash(validator: &str) -> String {
    hex::encode(Sha256::digest(validator.as_bytes()))
}

/// A sign-in's public handle: the room its sockets join. Derived from the
/// secret id, from which it cannot be turned back.
pub(crate) fn handle(sid: &str) -> String {
    hex::encode(Sha256::digest(
        format!("phial.auth.handle:{sid}").as_bytes(),
    ))[..24]
        .to_owned()
}

/// The fingerprint of a user's credentials: an HMAC (keyed by the app's
/// secret) of the realm, the id and the password hash.
pub(crate) fn fingerprint(secret: &str, realm: &str, id: &str, password_hash: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    for part in ["phial.auth.fp", realm, id, password_hash] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    hex::encode(mac.finalize().into_bytes())[..32].to_owned()
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_keys_and_cookies() {
        for id in ["7", "ada", "ada@example.com", "{x}", "a.b", "ünï"] {
            let k = key_id(id);
            assert!(!k.contains(['{', '}', '.', ':']), "{k}");
            assert_eq!(user_id(&k).as_deref(), Some(id));
        }
        assert_eq!(key_id("42"), "42");
    }

    #[test]
    fn a_user_keys_share_one_hash_tag() {
        let k = UserKeys::new("user", "7");
        assert_eq!(k.record("abc"), "{user:7}:s:abc");
        assert_eq!(k.epoch(), "{user:7}:e");
        assert!(k.remember("sel").starts_with("{user:7}:"));
    }

    #[test]
    fn fingerprints_follow_the_password_hash() {
        let a = fingerprint("k", "user", "7", "$scrypt$one");
        assert_eq!(a, fingerprint("k", "user", "7", "$scrypt$one"));
        assert_ne!(a, fingerprint("k", "user", "7", "$scrypt$two"));
        assert_ne!(a, fingerprint("other", "user", "7", "$scrypt$one"));
        assert_eq!(handle("s").len(), 24);
    }
}
