//! Short values signed with the app's secret for one purpose, so a client
//! can hold them and hand them back unchanged but cannot make its own
//! (itsdangerous's `Signer`, which Flask's sessions are built on): a key
//! derived from `secret_key` and the purpose signs, and the fallback keys
//! (`secret_key_fallbacks`) still verify while a secret is rotated.
//!
//! ```
//! use phial_core::signing::Signer;
//! let signer = Signer::new("a long secret", &[], "example.v1");
//! let signed = signer.sign("42");
//! assert_eq!(signer.unsign(&signed), Some("42"));
//! assert_eq!(signer.unsign("42.forged"), None);
//! // Another purpose's key does not verify it.
//! assert_eq!(Signer::new("a long secret", &[], "other.v1").unsign(&signed), None);
//! ```

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::CoreConfig;

type HmacSha256 = Hmac<Sha256>;

/// A key for `purpose` derived from `secret`.
pub(crate) fn derive(secret: &str, purpose: &str) -> [u8; 32] {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Signs and verifies `value.signature` (the signature base64url,
/// HMAC-SHA256 truncated to 128 bits).
#[derive(Clone)]
pub struct Signer {
    current: [u8; 32],
    fallbacks: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    /// A signer for `purpose` (name it and version it: `"myapp.invite.v1"`).
    pub fn new(secret: &str, fallbacks: &[String], purpose: &str) -> Signer {
        Signer {
            current: derive(secret, purpose),
            fallbacks: fallbacks.iter().map(|f| derive(f, purpose)).collect(),
        }
    }

    /// A signer with the app's `secret_key` and `secret_key_fallbacks`.
    pub fn from_config(core: &CoreConfig, purpose: &str) -> Signer {
        Signer::new(
            core.effective_secret_key(),
            &core.secret_key_fallbacks,
            purpose,
        )
    }

    fn mac(key: &[u8; 32], value: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(value.as_bytes());
        mac
    }

    /// `value.signature`.
    pub fn sign(&self, value: &str) -> String {
        let sig = Self::mac(&self.current, value).finalize().into_bytes();
        format!("{value}.{}", B64.encode(&sig[..16]))
    }

    /// The value, when `signed` carries a signature one of the keys made
    /// (compared in constant time).
    pub fn unsign<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, sig) = signed.rsplit_once('.')?;
        let sig = B64.decode(sig).ok()?;
        std::iter::once(&self.current)
            .chain(&self.fallbacks)
            .any(|k| sig.len() == 16 && Self::mac(k, value).verify_truncated_left(&sig).is_ok())
            .then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_keys_verify_and_tampering_does_not() {
        let old = Signer::new("old secret", &[], "p");
        let new = Signer::new("new secret", &["old secret".into()], "p");
        let signed = old.sign("1733600000000");
        assert_eq!(new.unsign(&signed), Some("1733600000000"));
        assert_eq!(Signer::new("new secret", &[], "p").unsign(&signed), None);
        let mut tampered = signed.clone();
        tampered.replace_range(0..1, "2");
        assert_eq!(old.unsign(&tampered), None);
        // A shorter signature is not a weaker one.
        let (value, sig) = signed.rsplit_once('.').unwrap();
        assert_eq!(old.unsign(&format!("{value}.{}", &sig[..4])), None);
        assert_eq!(old.unsign("no signature"), None);
        assert_eq!(old.unsign(""), None);
    }
}
