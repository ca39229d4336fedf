//! Conditional requests (RFC 9110): `If-None-Match` (a 304 instead of the
//! body) and `If-Match` (a 412 instead of overwriting someone else's
//! change), compared one way for static files, REST and the Socket.IO
//! client.
//!
//! ```
//! use http::HeaderValue;
//! use phial_core::conditional::none_match;
//! let current = HeaderValue::from_static("\"abc\"");
//! assert!(none_match(Some(&HeaderValue::from_static("W/\"abc\", \"x\"")), &current));
//! assert!(!none_match(None, &current));
//! ```

use http::HeaderValue;

/// The entity tags of a conditional header (`*` is `None`: any).
fn tags(header: &HeaderValue) -> Option<Vec<&str>> {
    let text = header.to_str().ok()?;
    if text.trim() == "*" {
        return None;
    }
    Some(
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// `If-None-Match` against the current tag: weak comparison (a `W/` tag
/// matches its strong twin), `*` matches anything.
pub fn none_match(header: Option<&HeaderValue>, current: &HeaderValue) -> bool {
    let Some(header) = header else { return false };
    let current = current.to_str().unwrap_or_default();
    match tags(header) {
        None => true,
        Some(tags) => tags
            .iter()
            .any(|t| t.strip_prefix("W/").unwrap_or(t) == current),
    }
}

/// Whether `If-Match` lets a write through: absent, `*`, or the current
/// tag compared strongly (a weak tag never matches).
pub fn match_allows(header: Option<&HeaderValue>, current: &HeaderValue) -> bool {
    let Some(header) = header else { return true };
    let current = current.to_str().unwrap_or_default();
    match tags(header) {
        None => true,
        Some(tags) => tags.contains(&current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_headers_compare_as_rfc_9110_says() {
        let tag = HeaderValue::from_static("\"v1\"");
        let text = tag.to_str().unwrap().to_owned();
        let weak = HeaderValue::from_str(&format!("W/{text}")).unwrap();
        let list = HeaderValue::from_str(&format!("\"x\", {text}")).unwrap();
        let other = HeaderValue::from_static("\"other\"");
        let any = HeaderValue::from_static("*");
        assert!(none_match(Some(&tag), &tag));
        assert!(none_match(Some(&weak), &tag));
        assert!(none_match(Some(&list), &tag));
        assert!(none_match(Some(&any), &tag));
        assert!(!none_match(Some(&other), &tag));
        assert!(!none_match(None, &tag));
        assert!(match_allows(None, &tag));
        assert!(match_allows(Some(&tag), &tag));
        assert!(match_allows(Some(&any), &tag));
        assert!(!match_allows(Some(&weak), &tag));
        assert!(!match_allows(Some(&other), &tag));
    }
}
