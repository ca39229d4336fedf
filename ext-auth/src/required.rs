//! `login_required` and `fresh_login_required` as tower layers, for a
//! route (`MethodRoutes::layer`), a blueprint's routes or a whole router:
//! the handlers behind them run only for a signed-in user of `U`'s realm
//! (and, fresh, one who entered their password within
//! `auth.fresh_minutes`: for pages that change a password or an email).
//!
//! ```no_run
//! use phial_auth::{login_required, fresh_login_required};
//! use phial_core::routing::get;
//! # #[derive(Clone)] struct Author;
//! async fn drafts() -> &'static str { "your drafts" }
//! let routes = get(drafts).layer(login_required::<Author>());
//! let sensitive = get(drafts).layer(fresh_login_required::<Author>());
//! # let _ = (routes, sensitive);
//! ```

use std::convert::Infallible;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use phial_core::AppState;
use tower::{Layer, Service};

use crate::current::{sign_in_first, signed_in};
use crate::error::AuthError;
use crate::record::now_secs;
use crate::signin::AuthCore;

/// The layer [`login_required`] and [`fresh_login_required`] make.
pub struct LoginRequired<U> {
    fresh: bool,
    _user: PhantomData<fn() -> U>,
}

impl<U> Clone for LoginRequired<U> {
    fn clone(&self) -> Self {
        LoginRequired {
            fresh: self.fresh,
            _user: PhantomData,
        }
    }
}

/// Only signed-in users of `U`'s realm reach the handlers.
pub fn login_required<U: Send + Sync + 'static>() -> LoginRequired<U> {
    LoginRequired {
        fresh: false,
        _user: PhantomData,
    }
}

/// Only users of `U`'s realm who entered their password within
/// `auth.fresh_minutes` reach the handlers; others are asked for it again.
pub fn fresh_login_required<U: Send + Sync + 'static>() -> LoginRequired<U> {
    LoginRequired {
        fresh: true,
        _user: PhantomData,
    }
}

impl<S, U> Layer<S> for LoginRequired<U> {
    type Service = LoginRequiredService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        LoginRequiredService {
            inner,
            fresh: self.fresh,
            _user: PhantomData,
        }
    }
}

/// A service behind [`LoginRequired`].
pub struct LoginRequiredService<S, U> {
    inner: S,
    fresh: bool,
    _user: PhantomData<fn() -> U>,
}

impl<S: Clone, U> Clone for LoginRequiredService<S, U> {
    fn clone(&self) -> Self {
        LoginRequiredService {
            inner: self.inner.clone(),
            fresh: self.fresh,
            _user: PhantomData,
        }
    }
}

impl<S, U> Service<Request> for LoginRequiredService<S, U>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    U: Send + Sync + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let fresh = self.fresh;
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let Some(app) = AppState::of_request(&parts.extensions) else {
                return Ok(AuthError::Unavailable(
                    "login_required runs inside a Phial app only".into(),
                )
                .into_response());
            };
            let (realm, signed) = match signed_in::<U>(&parts, &app).await {
                Ok(found) => found,
                Err(res) => return Ok(res),
            };
            let Some(user) = signed else {
                return Ok(sign_in_first(
                    &parts,
                    &realm,
                    "this page is for signed-in users",
                ));
            };
            if fresh {
                let minutes = app
                    .get::<std::sync::Arc<AuthCore>>()
                    .map_or(15, |c| c.cfg.fresh_minutes);
                if now_secs().saturating_sub(user.fresh_at()) > minutes * 60 {
                    return Ok(sign_in_first(
                        &parts,
                        &realm,
                        "this page needs your password again",
                    ));
                }
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
