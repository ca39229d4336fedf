//! The signed session cookie: `payload.issued_at.signature`, each part
//! base64url; HMAC-SHA256 over the first two with a key derived from the
//! secret. Verified with the current key, then each fallback key, so a secret
//! can be rotated without logging everybody out (Flask's
//! `SECRET_KEY_FALLBACKS`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Keys derived from `secret_key` and `secret_key_fallbacks`.
#[derive(Clone)]
pub(crate) struct Keys {
    current: [u8; 32],
    fallbacks: Vec<[u8; 32]>,
}

/// Why a session cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieProblem {
    /// Not three base64 parts, or not a JSON object.
    Malformed,
    /// No key verifies the signature: tampered, or signed with a retired key.
    BadSignature,
    /// Older than `session.max_age_secs`.
    Expired,
}

/// A decoded session and whether it was signed with a fallback key.
pub(crate) struct Decoded {
    pub(crate) data: Map<String, Value>,
    pub(crate) signed_with_fallback: bool,
}

impl Keys {
    pub(crate) fn new(secret: &str, fallbacks: &[String]) -> Self {
        const PURPOSE: &str = "phial.session.v1";
        Keys {
            current: crate::signing::derive(secret, PURPOSE),
            fallbacks: fallbacks
                .iter()
                .map(|f| crate::signing::derive(f, PURPOSE))
                .collect(),
        }
    }

    fn mac(key: &[u8; 32], signed_part: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(signed_part.as_bytes());
        mac
    }

    /// Signs a session's data, stamped with `now` (seconds since the epoch).
    pub(crate) fn encode(&self, data: &Map<String, Value>, now: u64) -> String {
        let payload = serde_json::to_vec(data).expect("a JSON map always serialises");
        let mut out = B64.encode(payload);
        out.push('.');
        out.push_str(&B64.encode(now.to_be_bytes()));
        let sig = Self::mac(&self.current, &out).finalize().into_bytes();
        out.push('.');
        out.push_str(&B64.encode(sig));
        out
    }

    /// Verifies and decodes a cookie value (comparison in constant time).
    pub(crate) fn decode(
        &self,
        raw: &str,
        max_age: u64,
        now: u64,
    ) -> Result<Decoded, CookieProblem> {
        let (signed_part, sig) = raw.rsplit_once('.').ok_or(CookieProblem::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| CookieProblem::Malformed)?;
        let key_index = std::iter::once(&self.current)
            .chain(&self.fallbacks)
            .position(|k| Self::mac(k, signed_part).verify_slice(&sig).is_ok())
            .ok_or(CookieProblem::BadSignature)?;
        let (payload, stamp) = signed_part
            .split_once('.')
            .ok_or(CookieProblem::Malformed)?;
        let stamp: [u8; 8] = B64
            .decode(stamp)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CookieProblem::Malformed)?;
        let issued = u64::from_be_bytes(stamp);
        if issued.saturating_add(max_age) < now {
            return Err(CookieProblem::Expired);
        }
        let payload = B64.decode(payload).map_err(|_| CookieProblem::Malformed)?;
        let data = serde_json::from_slice(&payload).map_err(|_| CookieProblem::Malformed)?;
        Ok(Decoded {
            data,
            signed_with_fallback: key_index > 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("visits".into(), 3.into());
        m
    }

    #[test]
    fn round_trips_and_rejects_tampering() {
        let keys = Keys::new("k1", &[]);
        let raw = keys.encode(&data(), 100);
        let decoded = keys.decode(&raw, 10, 105).unwrap();
        assert_eq!(decoded.data, data());
        assert!(!decoded.signed_with_fallback);

        let mut tampered = raw.clone().into_bytes();
        tampered[2] ^= 1;
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(keys.decode(&tampered, 10, 105).is_err());
        assert_eq!(
            keys.decode("garbage", 10, 105).err(),
            Some(CookieProblem::Malformed)
        );
    }

    #[test]
    fn expires_after_max_age() {
        let keys = Keys::new("k1", &[]);
        let raw = keys.encode(&data(), 100);
        assert_eq!(
            keys.decode(&raw, 10, 111).err(),
            Some(CookieProblem::Expired)
        );
    }

    #[test]
    fn fallback_keys_verify_old_cookies_and_retired_keys_do_not() {
        let old = Keys::new("old", &[]);
        let raw = old.encode(&data(), 100);
        let rotated = Keys::new("new", &["old".into()]);
        assert!(rotated.decode(&raw, 10, 100).unwrap().signed_with_fallback);
        let retired = Keys::new("new", &[]);
        assert_eq!(
            retired.decode(&raw, 10, 100).err(),
            Some(CookieProblem::BadSignature)
        );
    }
}
