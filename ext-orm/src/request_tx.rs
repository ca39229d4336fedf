//! A transaction per request (Flask-SQLAlchemy's session semantics): a
//! route wrapped in [`Transactional`] gives its handler a [`RequestTx`];
//! the transaction commits when the handler answers with a success or a
//! redirect, and rolls back on any error response. Its changes are
//! published after the commit.
//!
//! ```
//! use phial_core::routing::post;
//! use phial_orm::{OrmError, RequestTx, Transactional};
//! use sea_orm::ConnectionTrait;
//!
//! async fn create(tx: RequestTx) -> Result<&'static str, OrmError> {
//!     tx.execute_unprepared("SELECT 1").await?;
//!     Ok("created")
//! }
//! let routes = post(create).layer(Transactional);
//! ```

use std::convert::Infallible;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::{FromRef, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::request::Parts;
use phial_core::changes::ChangeFeed;
use phial_core::{AppState, HttpError};
use tower::{Layer, Service};

use crate::db::Db;
use crate::write::Tx;

type Slot = Arc<Mutex<Option<(Arc<Tx>, ChangeFeed)>>>;

/// Where the layer finds the transaction the handler opened.
#[derive(Clone)]
struct TxSlot(Slot);

/// Route layer that ends each request's transaction: commit on 2xx/3xx,
/// roll back otherwise. Only routes that carry it pay for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transactional;

impl<S> Layer<S> for Transactional {
    type Service = TransactionalService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TransactionalService { inner }
    }
}

/// The service [`Transactional`] wraps a route in.
#[derive(Debug, Clone)]
pub struct TransactionalService<S> {
    inner: S,
}

impl<S> Service<Request> for TransactionalService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let slot: Slot = Arc::default();
        req.extensions_mut().insert(TxSlot(slot.clone()));
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            let Some((tx, feed)) = taken else {
                return Ok(res);
            };
            let Ok(tx) = Arc::try_unwrap(tx) else {
                // A clone escaped the handler (a spawned task): dropping
                // ours leaves the rollback to the last holder.
                tracing::error!(
                    "a RequestTx outlived its handler; its transaction was not committed"
                );
                return Ok(
                    HttpError::internal("the request's transaction outlived its handler")
                        .into_response(),
                );
            };
            let status = res.status();
            if status.is_success() || status.is_redirection() {
                if let Err(e) = tx.commit(&feed).await {
                    return Ok(HttpError::from(e).into_response());
                }
            } else {
                tx.rollback().await;
            }
            Ok(res)
        })
    }
}

/// The current request's transaction (begun on first use). Derefs to
/// [`Tx`]: queries through it, and its write helpers, join the transaction.
#[derive(Clone)]
pub struct RequestTx(Arc<Tx>);

impl Deref for RequestTx {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.0
    }
}

phial_core::sentinel!(RequestTx, requires crate::Databases, "the `Orm` extension: `.register(phial::orm::Orm::new())`");

impl<S> FromRequestParts<S> for RequestTx
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let slot = parts.extensions.get::<TxSlot>().cloned().ok_or_else(|| {
            HttpError::internal(
                "RequestTx needs the route wrapped in `.layer(phial::orm::Transactional)`",
            )
        })?;
        if let Some((tx, _)) = slot.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(RequestTx(tx.clone()));
        }
        let db = Db::from_request_parts(parts, state).await?;
        let tx = Arc::new(db.begin().await.map_err(HttpError::from)?);
        *slot.0.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((tx.clone(), db.changes().clone()));
        Ok(RequestTx(tx))
    }
}
