//! The request's context: what the core middleware hands to extractors
//! (the app, the request id, the session and the identity memo, all in
//! the request's [`Session`]), in one request extension. Every extractor
//! that needs the request's context reads it here, below the middleware
//! that puts it there.

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::Session;
use crate::request_id::RequestId;

/// What the core middleware hands to extractors: the request id and the
/// session, in one request extension (one shared allocation, see
/// [`Session::for_request`]).
#[derive(Clone)]
pub(crate) struct RequestContext(pub(crate) Session);

impl RequestContext {
    pub(crate) fn session(ext: &http::Extensions) -> Option<&Session> {
        ext.get::<RequestContext>()
            .map(|c| &c.0)
            .filter(|s| s.is_on())
    }

    /// The shared context whether or not sessions are on.
    pub(crate) fn any(ext: &http::Extensions) -> Option<&Session> {
        ext.get::<RequestContext>().map(|c| &c.0)
    }

    pub(crate) fn id(ext: &http::Extensions) -> Option<&RequestId> {
        ext.get::<RequestContext>().and_then(|c| c.0.request_id())
    }
}

/// The request's id, as the core middleware set it (or a new one when
/// the middleware is not in front, e.g. a router served on its own).
impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestContext::id(&parts.extensions)
            .cloned()
            .unwrap_or_else(RequestId::generate))
    }
}
