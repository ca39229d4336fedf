//! What can go wrong signing in, and what the caller is told.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use phial_core::HttpError;

/// Why a sign-in or a sign-in check failed. Each is an HTTP answer with a
/// reason a person can act on (`IntoResponse`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The name or the password is wrong (which one is not said), or the
    /// account is inactive: 401.
    #[error("wrong name or password")]
    Invalid,
    /// Too many attempts for this name or from this address: 429 with
    /// `Retry-After`. No password was checked.
    #[error("too many sign-in attempts: try again in {} s", secs_up(*retry_after))]
    Throttled {
        /// How long until the next attempt is let through.
        retry_after: Duration,
    },
    /// Too many passwords are being checked right now: 503 with
    /// `Retry-After`.
    #[error("too many sign-ins are being checked right now: try again in a few seconds")]
    Busy,
    /// A name or password longer than the limit: 422, before any work.
    #[error("the {what} is longer than {max} characters")]
    TooLong {
        /// `name` or `password`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The session store or the users' table cannot be reached: 503.
    #[error("sign-ins cannot be checked right now ({0}); try again shortly")]
    Unavailable(String),
    /// No realm is registered for this user type (a programming error
    /// reported on the first request: register `Auth` for it).
    #[error("no sign-in realm for `{0}`: register `Auth` for it in the app factory")]
    NoRealm(&'static str),
}

pub(crate) fn secs_up(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl AuthError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Invalid => StatusCode::UNAUTHORIZED,
            AuthError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::Busy | AuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::TooLong { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AuthError::NoRealm(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Seconds to wait before trying again, when that is the answer.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::Throttled { retry_after } => Some(secs_up(*retry_after)),
            AuthError::Busy | AuthError::Unavailable(_) => Some(2),
            _ => None,
        }
    }
}

impl From<phial_core::password::PasswordError> for AuthError {
    fn from(e: phial_core::password::PasswordError) -> Self {
        use phial_core::password::PasswordError as P;
        match e {
            P::Busy => AuthError::Busy,
            P::TooLong { max } => AuthError::TooLong {
                what: "password",
                max,
            },
            other => AuthError::Unavailable(other.to_string()),
        }
    }
}

impl From<phial_core::identity::IdentityError> for AuthError {
    fn from(e: phial_core::identity::IdentityError) -> Self {
        AuthError::Unavailable(e.to_string())
    }
}

/// For handlers whose error type is `HttpError` (the `Retry-After` header
/// is lost: return `AuthError` itself to keep it).
impl From<AuthError> for HttpError {
    fn from(e: AuthError) -> Self {
        HttpError::new(e.status(), e.to_string())
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let retry = self.retry_after();
        let mut res = HttpError::new(self.status(), self.to_string()).into_response();
        if let Some(secs) = retry {
            res.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}
