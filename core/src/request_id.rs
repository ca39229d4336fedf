//! Request ids: kept from the client when it sends a sane one (so a proxy's
//! id follows the request), otherwise made from a per-process random prefix
//! and a counter. Either way the id is a header value ready for the
//! response: the client's shares the request's buffer, a generated one is
//! cut from a per-thread slab, so making one allocates nothing (one slab
//! every [`SLAB_BYTES`] bytes of ids).

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use http::HeaderValue;

/// Longest id kept from a client.
pub(crate) const MAX_LEN: usize = 64;

/// Room for ~160 generated ids; a slab is freed once its last id is dropped.
const SLAB_BYTES: usize = 4096;

/// The current request's id; also in the response header (`x-request-id`
/// by default) and in the request's tracing span. Cheap to clone.
#[derive(Clone)]
pub struct RequestId(HeaderValue);

static COUNTER: AtomicU64 = AtomicU64::new(0);
static PREFIX: OnceLock<u32> = OnceLock::new();

thread_local! {
    static SLAB: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }

    /// The id as the response header's value (shares the bytes).
    pub(crate) fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// Keeps the client's id when it is 1-64 characters of `[A-Za-z0-9._:/-]`.
    pub(crate) fn from_client(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let sane = !bytes.is_empty()
            && bytes.len() <= MAX_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(b));
        sane.then(|| RequestId(value.clone()))
    }

    pub(crate) fn generate() -> Self {
        let prefix = *PREFIX.get_or_init(|| {
            let mut b = [0u8; 4];
            getrandom::fill(&mut b)
                .map(|()| u32::from_le_bytes(b))
                .unwrap_or(std::process::id())
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 8 + 1 + 16];
        for (i, slot) in out[..8].iter_mut().enumerate() {
            *slot = HEX[((prefix >> (28 - 4 * i)) & 0xf) as usize];
        }
        out[8] = b'-';
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
        for i in 0..digits {
            out[9 + i] = HEX[((n >> (4 * (digits - 1 - i))) & 0xf) as usize];
        }
        let bytes = SLAB.with(|slab| {
            let mut slab = slab.borrow_mut();
            let len = 9 + digits;
            if slab.capacity() < len {
                *slab = BytesMut::with_capacity(SLAB_BYTES);
            }
            slab.extend_from_slice(&out[..len]);
            slab.split().freeze()
        });
        RequestId(HeaderValue::from_maybe_shared(bytes).expect("ids hold only header-safe ASCII"))
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sane_client_ids_only() {
        assert!(RequestId::from_client(&HeaderValue::from_static("abc-123")).is_some());
        assert!(RequestId::from_client(&HeaderValue::from_static("a b")).is_none());
        assert!(RequestId::from_client(&HeaderValue::from_static("")).is_none());
        let long = "x".repeat(MAX_LEN + 1);
        assert!(RequestId::from_client(&HeaderValue::from_str(&long).unwrap()).is_none());
    }

    #[test]
    fn generated_ids_are_prefix_and_hex_counter() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a.as_str(), b.as_str());
        let (prefix, n) = a.as_str().split_once('-').unwrap();
        assert_eq!(prefix.len(), 8);
        assert!(u64::from_str_radix(n, 16).is_ok(), "{a}");
        assert_eq!(a.header_value().to_str().unwrap(), a.as_str());
        assert_eq!(b.header_value().to_str().unwrap(), b.as_str());
    }

    #[test]
    fn ids_cut_from_several_slabs_stay_distinct_and_intact() {
        let ids: Vec<RequestId> = (0..2 * SLAB_BYTES / 10)
            .map(|_| RequestId::generate())
            .collect();
        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            let (prefix, n) = id.as_str().split_once('-').unwrap();
            assert_eq!(prefix.len(), 8, "{id}");
            assert!(u64::from_str_radix(n, 16).is_ok(), "{id}");
            assert!(seen.insert(id.as_str().to_owned()), "{id} twice");
        }
    }

    #[test]
    fn a_client_id_is_kept_as_sent() {
        let id = RequestId::from_client(&HeaderValue::from_static("proxy-42")).unwrap();
        assert_eq!(id.as_str(), "proxy-42");
        assert_eq!(id.header_value(), "proxy-42");
    }
}
