//! The build's checks of the core's own settings: the secret key and its
//! fallbacks (production refuses weak ones), CORS, cookies and CSRF that
//! cannot work together, trusted proxies and the response headers.

use crate::builder::AppBuilder;
use crate::error::BuildError;
use crate::security::SecurityHeaders;

use super::CORE_SOURCE;

/// Step 2: the secret (not for a describe-only build, which signs
/// nothing), the password hasher's settings, then settings that cannot
/// work together.
pub(super) fn settings(b: &mut AppBuilder, describe_only: bool) {
    if !describe_only {
        check_secret(b);
        crate::password::configure(&b.core.password);
    }
    check_settings(b);
}

fn check_settings(b: &mut AppBuilder) {
    if let Err((key, message)) = crate::cors::Cors::from_config(b.core.cors.clone()).layer() {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: format!("cors.{key}"),
            message,
        });
    }
    if b.core.session.same_site == crate::config::SameSite::None && !b.core.session.secure {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "session.same_site".into(),
            message: "`None` needs `session.secure = true` (browsers drop SameSite=None \
                      cookies that are not Secure); or use `Lax`"
                .into(),
        });
    }
    if b.core.csrf.enabled && !b.core.session.enabled {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "csrf.enabled".into(),
            message:
                "CSRF tokens live in the session: turn session.enabled on, or csrf.enabled off"
                    .into(),
        });
    }
}

fn check_secret(b: &mut AppBuilder) {
    match b.core.secret_key_problem() {
        Some(problem) if b.config.profile().is_production() => b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "secret_key".into(),
            message: format!(
                "{problem}: production needs a random secret of at least {} characters. Set PHIAL_SECRET_KEY, \
                 e.g. to the output of `openssl rand -hex 32` (or this binary's `secret` command)",
                crate::config::MIN_SECRET_KEY_LEN
            ),
        }),
        Some(_) if b.core.secret_key.is_none() => {
            tracing::debug!("no secret_key set: using the development key (production refuses it)");
        }
        _ => {}
    }
    if let Some((i, problem)) = b.core.fallback_key_problem()
        && b.config.profile().is_production()
    {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: format!("secret_key_fallbacks[{i}]"),
            message: format!(
                "{problem}: an old key still signs in whoever holds it, so production needs \
                 each fallback as strong as the key ({} characters or more); drop it from \
                 the list once its sessions have expired",
                crate::config::MIN_SECRET_KEY_LEN
            ),
        });
    }
}

/// The security headers every response gets, with room for the ones
/// nearly every response adds, and the request id's header name.
pub(super) fn response_headers(b: &mut AppBuilder) -> (SecurityHeaders, http::HeaderName) {
    let security_headers =
        SecurityHeaders::from_config(&b.core.security).unwrap_or_else(|errors| {
            b.errors.extend(errors);
            SecurityHeaders::default()
        });
    let request_id_header = static_header_name(&b.core.request_id.header).unwrap_or_else(|| {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "request_id.header".into(),
            message: "is not a valid header name (use letters, digits and `-`)".into(),
        });
        http::HeaderName::from_static("x-request-id")
    });
    // Nearly every response has these on top of ours (axum sets the
    // length of a body of known size).
    let mut security_headers = security_headers
        .with_slot(http::header::CONTENT_TYPE)
        .with_slot(http::header::CONTENT_LENGTH);
    if b.core.request_id.enabled {
        security_headers = security_headers.with_slot(request_id_header.clone());
    }
    (security_headers, request_id_header)
}

/// A header name whose clones cost nothing per request (leaked once per app).
fn static_header_name(name: &str) -> Option<http::HeaderName> {
    let lower = name.to_ascii_lowercase();
    http::HeaderName::from_bytes(lower.as_bytes()).ok()?;
    Some(http::HeaderName::from_static(Box::leak(
        lower.into_boxed_str(),
    )))
}

/// `server.trusted_proxies`, parsed; each bad entry is a build error.
pub(super) fn trusted_proxies(b: &mut AppBuilder) -> crate::client_addr::TrustedProxies {
    crate::client_addr::TrustedProxies::parse(&b.core.server.trusted_proxies).unwrap_or_else(
        |bad| {
            for (i, message) in bad {
                b.errors.push(BuildError::Config {
                    extension: CORE_SOURCE.into(),
                    key: format!("server.trusted_proxies[{i}]"),
                    message,
                });
            }
            Default::default()
        },
    )
}
