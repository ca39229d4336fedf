//! Security headers on every response (Flask-Talisman's set), computed once
//! when the app is built. A handler that sets one of them itself wins.

use http::header::{
    CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue};

use crate::config::SecurityConfig;
use crate::error::BuildError;

/// The headers, ready to copy into responses: a prepared map, sized for
/// the response's own headers too, whose clone (hashes and all) becomes
/// the response's map. Values are static, so the clone touches no
/// reference count.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityHeaders(HeaderMap);

/// Room in the prepared map for a response's own headers and the ones the
/// core middleware adds (request id, `Vary`, `Set-Cookie`).
const ROOM: usize = 7;

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
            let mut map = HeaderMap::with_capacity(headers.len() + ROOM);
            map.extend(headers);
            Ok(SecurityHeaders(map))
        } else {
            Err(errors)
        }
    }

    /// Adds the headers the response does not already have.
    ///
    /// Inserting each one into the response's map hashes and probes it,
    /// every time; cloning the prepared map copies the hashes, and only the
    /// response's own few headers (usually `content-type` and
    /// `content-length`) are moved over it. Theirs replace ours.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        if self.0.is_empty() {
            return;
        }
        let own = std::mem::replace(headers, self.0.clone());
        let mut last: Option<HeaderName> = None;
        for (name, value) in own {
            match name {
                Some(name) => {
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
        security.apply(&mut headers);
        assert_eq!(headers[X_FRAME_OPTIONS], "SAMEORIGIN");
        assert_eq!(headers.get_all(X_FRAME_OPTIONS).iter().count(), 1);
        let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(headers.contains_key(REFERRER_POLICY));
    }
}
