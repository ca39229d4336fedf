//! Security headers on every response (Flask-Talisman's set), computed once
//! when the app is built. A handler that sets one of them itself wins.

use http::header::{
    CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue};

use crate::config::SecurityConfig;
use crate::error::BuildError;

/// The headers, ready to copy into responses.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityHeaders(HeaderMap);

impl SecurityHeaders {
    pub(crate) fn from_config(cfg: &SecurityConfig) -> Result<Self, Vec<BuildError>> {
        if !cfg.enabled {
            return Ok(Self::default());
        }
        let mut headers = HeaderMap::new();
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
                    headers.insert(
                        name,
                        HeaderValue::from_static(Box::leak(value.to_owned().into_boxed_str())),
                    );
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
            Ok(SecurityHeaders(headers))
        } else {
            Err(errors)
        }
    }

    /// Adds the headers the response does not already have.
    ///
    /// Cloning the prepared map and moving the response's few headers over
    /// it is cheaper than inserting each security header into the response.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in self.0.iter() {
            if !headers.contains_key(name) {
                headers.append(name.clone(), value.clone());
            }
        }
    }
}
