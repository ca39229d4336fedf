//! Answers with stored bytes: the body, its strong ETag and a 304 when
//! the client has it.

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, ETAG};
use http::{HeaderValue, StatusCode};
use phial_orm::meta::ModelMeta;
use phial_orm::meta::json::{self};
use sea_orm::EntityTrait;

use crate::cached::Stored;
use crate::etag;
use crate::problem::Problem;

/// A body ready to send or keep: its JSON text and strong ETag.
pub(crate) fn stored_bytes(bytes: Vec<u8>) -> Stored {
    let etag = etag::of(&bytes).to_str().unwrap_or_default().to_owned();
    // serde_json writes UTF-8.
    let body = String::from_utf8(bytes).unwrap_or_default();
    Stored { etag, body }
}

/// One row as the JSON text clients get (the fields `meta` shows).
pub(crate) fn item_bytes<E: EntityTrait>(meta: &ModelMeta, model: &E::Model) -> Stored {
    let mut out = Vec::with_capacity(256);
    json::write_json::<E>(meta, model, &mut out);
    stored_bytes(out)
}

/// A JSON response with its ETag, or a 304 when the client has it.
pub(crate) fn respond(
    status: StatusCode,
    stored: Stored,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let Ok(tag) = HeaderValue::from_str(&stored.etag) else {
        return Problem::internal(&"an ETag that is not a header value").into_response();
    };
    if status == StatusCode::OK && etag::none_match(if_none_match, &tag) {
        return (StatusCode::NOT_MODIFIED, [(ETAG, tag)]).into_response();
    }
    let mut res = (status, stored.body).into_response();
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ETAG, tag);
    res
}
