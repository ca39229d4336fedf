//! Cross-site request forgery protection (Flask-WTF's `CSRFProtect`): unsafe
//! requests that a browser could send cross-site must carry a token tied to
//! the session, in the form field `csrf_token` or the `X-CSRF-Token` header.
//!
//! Tokens are masked with a fresh random pad each time they are handed out,
//! so they never repeat in pages (BREACH), and compared in constant time.
//!
//! This file holds the tokens; [`layer`] the route layer that checks them.

pub(crate) mod layer;

use axum::extract::FromRequestParts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::request::Parts;
use subtle::ConstantTimeEq;

use crate::error::HttpError;
use crate::session::Session;

const SESSION_KEY: &str = "_csrf";
const LEN: usize = 32;

/// Why an unsafe request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfError {
    /// The request carries no token.
    #[error(
        "CSRF token missing: send the `csrf_token` form field (templates: {{{{ csrf_token() }}}}) or the X-CSRF-Token header"
    )]
    Missing,
    /// The session has no CSRF secret: no cookie, or it expired or failed verification.
    #[error(
        "CSRF session token missing: the session cookie was not sent, expired or was rejected; reload the form and submit it again"
    )]
    NoSession,
    /// The token does not match the session.
    #[error(
        "CSRF token invalid: it does not belong to this session; reload the form and submit it again"
    )]
    Invalid,
    /// The browser says the request came from another site.
    #[error("cross-site request refused (Sec-Fetch-Site: cross-site)")]
    CrossSite,
}

impl From<CsrfError> for HttpError {
    fn from(e: CsrfError) -> Self {
        HttpError::forbidden(e.to_string())
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf
}

fn secret(session: &Session, create: bool) -> Option<[u8; LEN]> {
    session.with_data(|data, modified| {
        let existing = data
            .get(SESSION_KEY)
            .and_then(|v| v.as_str())
            .and_then(|s| B64.decode(s).ok())
            .and_then(|b| <[u8; LEN]>::try_from(b).ok());
        match existing {
            Some(s) => Some(s),
            None if create => {
                let s = random::<LEN>();
                data.insert(SESSION_KEY.into(), B64.encode(s).into());
                *modified = true;
                Some(s)
            }
            None => None,
        }
    })
}

/// Drops the session's CSRF secret, so tokens handed out before no longer
/// verify and the next one comes from a new secret. Signing in and out
/// does it (`phial::auth`): a token seen before sign-in is useless after.
pub fn rotate(session: &Session) {
    session.remove(SESSION_KEY);
}

/// A fresh masked token for this session (creating its secret if needed).
pub fn generate_token(session: &Session) -> String {
    let secret = secret(session, true).expect("created above");
    let pad = random::<LEN>();
    let mut out = [0u8; 2 * LEN];
    out[..LEN].copy_from_slice(&pad);
    for i in 0..LEN {
        out[LEN + i] = pad[i] ^ secret[i];
    }
    B64.encode(out)
}

/// Checks a token against the session.
pub fn verify_token(session: &Session, token: Option<&str>) -> Result<(), CsrfError> {
    let token = token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(CsrfError::Missing)?;
    let secret = secret(session, false).ok_or(CsrfError::NoSession)?;
    let raw = B64.decode(token).map_err(|_| CsrfError::Invalid)?;
    if raw.len() != 2 * LEN {
        return Err(CsrfError::Invalid);
    }
    let mut unmasked = [0u8; LEN];
    for i in 0..LEN {
        unmasked[i] = raw[i] ^ raw[LEN + i];
    }
    if bool::from(unmasked.ct_eq(&secret)) {
        Ok(())
    } else {
        Err(CsrfError::Invalid)
    }
}

/// A CSRF token for the current session, for handlers that build forms
/// without templates.
///
/// ```
/// use phial_core::csrf::CsrfToken;
/// async fn form(token: CsrfToken) -> String {
///     format!(r#"<input type="hidden" name="csrf_token" value="{}">"#, token.0)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        Ok(CsrfToken(generate_token(&session)))
    }
}
