//! Security headers on every response (Flask-Talisman's set), computed once
//! when the app is built. A handler that sets one of them itself wins.

use http::header::{
    CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue};

use crate::config::SecurityConfig;
use crate::error::BuildError;

/// The headers, ready to copy into responses: a prepared map whose clone
/// (hashes and all) becomes the response's map. Values are static, so the
/// clone touches no reference count.
///
/// A clone has no spare room, so the map also holds a slot for each
/// header nearly every response gets on top of ours (`Content-Type`,
/// `Content-Length`, the request id): filling a slot replaces a value in place, where adding a
/// header would grow the map (measured with callgrind in `layer-cost`).
/// Slots the response leaves empty are removed.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityHeaders {
    map: HeaderMap,
    slots: Vec<HeaderName>,
}

impl SecurityHeaders {
    pub(crate) fn from_config(cfg: &SecurityConfig) -> Result<Self, Vec<BuildError>> {
        if !cfg.enabled {
            return Ok(Self::default());
        }
        let mut headers = Vec::new();
        let mut errors = Vec::new();
        let mut add = |name: HeaderName, key: &str, value: &str| {
            if value.is_empty() {
                return;
            }
            // `from_static` accepts visible ASCII only (and panics on the
            // rest), where `from_str` also lets non-ASCII bytes through.
            let visible = value.bytes().all(|b| (32..127).contains(&b) || b == b'\t');
            match HeaderValue::from_str(value) {
                // Static values are copied per response without touching a
                // reference count: the few bytes are leaked once per app.
                Ok(_) if visible => {
                    headers.push((
                        name,
                        HeaderValue::from_static(Box::leak(value.to_owned().into_boxed_str())),
                    ));
                }
                _ => errors.push(BuildError::Config {
                    extension: "core".into(),
                    key: format!("security.{key}"),
                    message: "is not a valid header value: use printable ASCII only (no \
                              control characters, newlines or non-ASCII letters; \
                              percent-encode URLs)"
                        .into(),
                }),
            }
        };
        add(
            CONTENT_SECURITY_POLICY,
            "content_security_policy",
            &cfg.content_security_policy,
        );
        add(X_FRAME_OPTIONS, "frame_options", &cfg.frame_options);
        add(REFERRER_POLICY, "referrer_policy", &cfg.referrer_policy);
        if cfg.content_type_nosniff {
            add(X_CONTENT_TYPE_OPTIONS, "content_type_nosniff", "nosniff");
        }
        if cfg.hsts {
            let sub = if cfg.hsts_include_subdomains {
                "; includeSubDomains"
            } else {
                ""
            };
            add(
                STRICT_TRANSPORT_SECURITY,
                "hsts",
                &format!("max-age={}{sub}", cfg.hsts_max_age_secs),
            );
        }
        if errors.is_empty() {
            let mut map = HeaderMap::with_capacity(headers.len() + 3);
            map.extend(headers);
            Ok(SecurityHeaders {
                map,
                slots: Vec::new(),
            })
        } else {
            Err(errors)
        }
    }

    /// Reserves a slot for `name` (see the type's docs); only when there
    /// are headers to add at all.
    pub(crate) fn with_slot(mut self, name: HeaderName) -> Self {
        if !self.map.is_empty() && !self.map.contains_key(&name) {
            self.map.insert(&name, HeaderValue::from_static(""));
            self.slots.push(name);
        }
        self
    }

    /// Adds the headers the response does not already have (its own win),
    /// then the request id, when given (it replaces the response's).
    pub(crate) fn apply(&self, headers: &mut HeaderMap, id: Option<(&HeaderName, &HeaderValue)>) {
        if self.map.is_empty() {
            if let Some((name, value)) = id {
                headers.insert(name, value.clone());
            }
            return;
        }
        let own = std::mem::replace(headers, self.map.clone());
        // Bit i: slot i was filled.
        let mut filled = 0u32;
        let mut fill = |name: &HeaderName| {
            if let Some(i) = self.slots.iter().position(|s| s == name) {
                filled |= 1 << i;
            }
        };
        let mut last: Option<HeaderName> = None;
        for (name, value) in own {
            match name {
                Some(name) => {
                    fill(&name);
                    headers.insert(&name, value);
                    last = Some(name);
                }
                // Further values of the same header.
                None => {
                    if let Some(name) = &last {
                        headers.append(name, value);
                    }
                }
            }
        }
        if let Some((name, value)) = id {
            fill(name);
            headers.insert(name, value.clone());
        }
        for (i, slot) in self.slots.iter().enumerate() {
            if filled & (1 << i) == 0 {
                headers.remove(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_own_headers_win_and_keep_every_value() {
        let cfg = crate::config::CoreConfig::default().security;
        let security = SecurityHeaders::from_config(&cfg).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        security.apply(&mut headers, None);
        assert_eq!(headers[X_FRAME_OPTIONS], "SAMEORIGIN");
        assert_eq!(headers.get_all(X_FRAME_OPTIONS).iter().count(), 1);
        let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(headers.contains_key(REFERRER_POLICY));
    }

    #[test]
    fn slots_are_filled_by_the_response_or_removed() {
        let cfg = crate::config::CoreConfig::default().security;
        let id_name = HeaderName::from_static("x-request-id");
        let security = SecurityHeaders::from_config(&cfg)
            .unwrap()
            .with_slot(http::header::CONTENT_TYPE)
            .with_slot(id_name.clone());
        let id = HeaderValue::from_static("abc");

        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain"),
        );
        security.apply(&mut headers, Some((&id_name, &id)));
        assert_eq!(headers[http::header::CONTENT_TYPE], "text/plain");
        assert_eq!(headers[&id_name], "abc");

        // A redirect has no content type; no request id was given.
        let mut headers = HeaderMap::new();
        headers.insert(http::header::LOCATION, HeaderValue::from_static("/"));
        security.apply(&mut headers, None);
        assert!(
            !headers.contains_key(http::header::CONTENT_TYPE),
            "{headers:?}"
        );
        assert!(!headers.contains_key(&id_name), "{headers:?}");
        assert_eq!(headers[http::header::LOCATION], "/");
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
