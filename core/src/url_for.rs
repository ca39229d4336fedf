//! URL building by endpoint name, Flask's `url_for`: the table of
//! endpoint names and patterns the app builds ([`UrlMap`]), and the
//! [`Urls`] extractor that builds URLs and redirects inside handlers, with
//! errors that are already responses.

use std::collections::HashMap;

use axum::extract::{FromRef, FromRequestParts};
use axum::response::Redirect;
use http::request::Parts;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::error::HttpError;
use crate::state::AppState;

/// Characters escaped inside one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'\'')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');
/// Inside a wildcard the slashes stay.
const WILDCARD: &AsciiSet = &SEGMENT.remove(b'/');
/// Query keys and values.
const QUERY: &AsciiSet = &SEGMENT.add(b'&').add(b'=').add(b'+');

/// A URL could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// No route has that name.
    #[error(
        "no endpoint named `{0}`: name the route with `.name(...)` (blueprint routes are `blueprint.name`)"
    )]
    UnknownEndpoint(String),
    /// A path parameter was not given.
    #[error("endpoint `{endpoint}` needs the parameter `{param}`")]
    MissingParam {
        /// The endpoint.
        endpoint: String,
        /// The missing parameter.
        param: String,
    },
}

/// Endpoint name → path pattern, frozen when the app is built.
#[derive(Debug, Default, Clone)]
pub struct UrlMap {
    patterns: HashMap<String, String>,
}

impl UrlMap {
    pub(crate) fn insert(&mut self, name: String, pattern: String) -> Option<String> {
        self.patterns.insert(name, pattern)
    }

    /// The path pattern of an endpoint.
    pub fn pattern(&self, endpoint: &str) -> Option<&str> {
        self.patterns.get(endpoint).map(String::as_str)
    }

    /// Builds the URL of `endpoint`: parameters named in the path fill it,
    /// the rest become the query string.
    ///
    /// ```
    /// use phial_core::{App, Config, routing::get};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let app = App::builder(Config::testing())
    ///     .route("/posts/{id}", get(|| async { "" }).name("show"))
    ///     .build().await.unwrap();
    /// let url = app.state().url_for("show", &[("id", "7"), ("page", "2")]).unwrap();
    /// assert_eq!(url, "/posts/7?page=2");
    /// # }
    /// ```
    pub fn build<K: AsRef<str>, V: AsRef<str>>(
        &self,
        endpoint: &str,
        params: &[(K, V)],
    ) -> Result<String, UrlError> {
        let pattern = self
            .pattern(endpoint)
            .ok_or_else(|| UrlError::UnknownEndpoint(endpoint.to_owned()))?;
        let mut used = vec![false; params.len()];
        let mut out = String::with_capacity(pattern.len() + 16);
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .unwrap_or(rest.len() - 1);
            let raw = &rest[open + 1..close];
            let (wild, name) = match raw.strip_prefix('*') {
                Some(n) => (true, n),
                None => (false, raw),
            };
            let idx = params
                .iter()
                .position(|(k, _)| k.as_ref() == name)
                .ok_or_else(|| UrlError::MissingParam {
                    endpoint: endpoint.to_owned(),
                    param: name.to_owned(),
                })?;
            used[idx] = true;
            let value = params[idx].1.as_ref();
            let set = if wild { WILDCARD } else { SEGMENT };
            out.extend(utf8_percent_encode(
                value.trim_start_matches(if wild { "/" } else { "" }),
                set,
            ));
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        let mut sep = '?';
        for ((k, v), used) in params.iter().zip(used) {
            if !used {
                out.push(sep);
                sep = '&';
                out.extend(utf8_percent_encode(k.as_ref(), QUERY));
                out.push('=');
                out.extend(utf8_percent_encode(v.as_ref(), QUERY));
            }
        }
        Ok(out)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> UrlMap {
        let mut m = UrlMap::default();
        m.insert("show".into(), "/posts/{id}".into());
        m.insert("static".into(), "/static/{*filename}".into());
        m.insert("index".into(), "/".into());
        m
    }

    #[test]
    fn fills_params_and_appends_the_rest_as_query() {
        let m = map();
        assert_eq!(
            m.build("show", &[("id", "7"), ("q", "a b&c")]).unwrap(),
            "/posts/7?q=a%20b%26c"
        );
        assert_eq!(m.build("show", &[("id", "a/b")]).unwrap(), "/posts/a%2Fb");
        assert_eq!(
            m.build("static", &[("filename", "css/site.css")]).unwrap(),
            "/static/css/site.css"
        );
        assert_eq!(m.build::<&str, &str>("index", &[]).unwrap(), "/");
    }

    #[test]
    fn errors_name_what_is_missing() {
        let m = map();
        assert_eq!(
            m.build::<&str, &str>("show", &[]),
            Err(UrlError::MissingParam {
                endpoint: "show".into(),
                param: "id".into()
            })
        );
        assert!(matches!(
            m.build::<&str, &str>("nope", &[]),
            Err(UrlError::UnknownEndpoint(_))
        ));
    }
}
