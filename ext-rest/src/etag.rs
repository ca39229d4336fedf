//! Strong ETags from the representation's bytes (compared by
//! [`phial_core::conditional`]).

pub(crate) use phial_core::conditional::{match_allows, none_match};

use base64::Engine as _;
use http::HeaderValue;

/// A strong ETag for a body: its 128-bit XXH3, quoted. A tag tells
/// versions of one resource apart (it is no signature: the server makes
/// both the body and its tag), and XXH3 does so at memory speed, where a
/// cryptographic hash took a tenth of a list request.
pub(crate) fn of(body: &[u8]) -> HeaderValue {
    let digest = xxhash_rust::xxh3::xxh3_128(body).to_le_bytes();
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    HeaderValue::from_str(&format!("\"{tag}\"")).expect("base64url is header-safe")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_tell_bodies_apart() {
        assert_ne!(super::of(b"{}"), super::of(b"{ }"));
        assert_eq!(super::of(b"{}"), super::of(b"{}"));
    }
}
