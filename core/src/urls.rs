//! [`Urls`]: `url_for` and redirects by endpoint name inside handlers,
//! with errors that are already responses.

use axum::extract::{FromRef, FromRequestParts};
use axum::response::Redirect;
use http::request::Parts;

use crate::error::HttpError;
use crate::state::AppState;
use crate::url::UrlError;

/// Builds URLs by endpoint name in a handler (Flask's `url_for` and
/// `redirect(url_for(...))`). A wrong endpoint or a missing parameter is a
/// 500 naming it: a bug in the app, not the client's fault.
///
/// ```
/// use phial_core::{HttpError, Urls};
/// use axum::response::Redirect;
///
/// async fn create(urls: Urls) -> Result<Redirect, HttpError> {
///     let id = 7; // ... the saved post's id ...
///     urls.redirect("post", &[("id", &id.to_string())])
/// }
///
/// async fn home(urls: Urls) -> Result<Redirect, HttpError> {
///     urls.redirect("index", &[])
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Urls(AppState);

impl Urls {
    /// The path of `endpoint`: parameters named in its pattern fill it, the
    /// rest become the query string.
    pub fn url_for(&self, endpoint: &str, params: &[(&str, &str)]) -> Result<String, HttpError> {
        Ok(self.0.url_for(endpoint, params)?)
    }

    /// A `303 See Other` to `endpoint` (what a form handler answers after a
    /// successful POST).
    pub fn redirect(&self, endpoint: &str, params: &[(&str, &str)]) -> Result<Redirect, HttpError> {
        Ok(Redirect::to(&self.url_for(endpoint, params)?))
    }
}

impl From<UrlError> for HttpError {
    fn from(e: UrlError) -> Self {
        HttpError::internal(e.to_string())
    }
}

impl<S> FromRequestParts<S> for Urls
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Urls(AppState::from_ref(state)))
    }
}
