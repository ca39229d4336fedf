//! [`CurrentUser`]: the signed-in user of a realm, in a handler. A browser
//! that is not signed in is sent to the realm's sign-in page with a `next`
//! that brings it back; an API client gets a 401 with the reason; a
//! sign-in that cannot be checked (the store is down) is a 503 — never
//! "anonymous" for a request that carries one.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Redirect, Response};
use http::request::Parts;
use http::{Method, StatusCode};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use phial_core::identity::{self, SignedIn};
use phial_core::{AppState, HttpError, Session};

use crate::error::AuthError;
use crate::realm::Realm;
use crate::signin::{AuthCore, UserBox};

/// The signed-in user of `U`'s realm (see the module docs).
///
/// ```no_run
/// use phial_auth::CurrentUser;
/// # #[derive(Clone)] struct Author { name: String }
/// async fn dashboard(CurrentUser(author): CurrentUser<Author>) -> String {
///     format!("hello, {}", author.name)
/// }
/// async fn index(user: Option<CurrentUser<Author>>) -> &'static str {
///     if user.is_some() { "welcome back" } else { "hello" }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser<U>(pub U);

impl<U> std::ops::Deref for CurrentUser<U> {
    type Target = U;
    fn deref(&self) -> &U {
        &self.0
    }
}

/// The realm of `U` and who is signed in to it; `Ok(None)` for nobody.
pub(crate) async fn signed_in<U: Send + Sync + 'static>(
    parts: &Parts,
    app: &AppState,
) -> Result<(Arc<Realm>, Option<SignedIn>), Response> {
    let realm = app
        .get::<Arc<AuthCore>>()
        .and_then(|c| c.realms.by_type(std::any::TypeId::of::<U>()).cloned())
        .ok_or_else(|| AuthError::NoRealm(std::any::type_name::<U>()).into_response())?;
    let Some(session) = Session::from_extensions(&parts.extensions) else {
        return Ok((realm, None));
    };
    let who = identity::of(&session)
        .await
        .map_err(|e| AuthError::from(e).into_response())?;
    let user = who.get(&realm.name).cloned();
    Ok((realm, user))
}

fn wants_html(parts: &Parts) -> bool {
    parts
        .headers
        .get(http::header::ACCEPT)
        .is_some_and(|v| v.as_bytes().windows(9).any(|w| w == b"text/html"))
}

/// Where the request was going, as a `next` for the sign-in page: a path
/// on this site only.
pub(crate) fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into())
}

/// The answer to a request that needs a sign-in it does not have.
pub(crate) fn sign_in_first(parts: &Parts, realm: &Realm, why: &str) -> Response {
    if wants_html(parts) && matches!(parts.method, Method::GET | Method::HEAD) {
        let here = here(parts);
        let next = utf8_percent_encode(&here, NON_ALPHANUMERIC);
        let sep = if realm.login_url.contains('?') {
            '&'
        } else {
            '?'
        };
        return Redirect::to(&format!("{}{sep}next={next}", realm.login_url)).into_response();
    }
    HttpError::new(
        StatusCode::UNAUTHORIZED,
        format!("{why}: sign in at {}", realm.login_url),
    )
    .into_response()
}

fn user_of<U: Clone + Send + Sync + 'static>(signed: &SignedIn) -> Option<U> {
    crate::signin::typed(&signed.get::<UserBox>()?.0)
}

impl<S, U> FromRequestParts<S> for CurrentUser<U>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    U: Clone + Send + Sync + 'static,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let app = AppState::from_ref(state);
        let (realm, signed) = signed_in::<U>(parts, &app).await?;
        match signed.as_ref().and_then(user_of::<U>) {
            Some(user) => Ok(CurrentUser(user)),
            None => Err(sign_in_first(
                parts,
                &realm,
                "this page is for signed-in users",
            )),
        }
    }
}

impl<S, U> OptionalFromRequestParts<S> for CurrentUser<U>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    U: Clone + Send + Sync + 'static,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Response> {
        let app = AppState::from_ref(state);
        let (_, signed) = signed_in::<U>(parts, &app).await?;
        Ok(signed.as_ref().and_then(user_of::<U>).map(CurrentUser))
    }
}
