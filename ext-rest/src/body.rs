//! A request's body as a write's input: read within the size limit, its
//! content type checked (JSON, or a form where the resource takes one).

use axum::body::Body;
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use phial_core::AppState;
use phial_orm::Db;
use phial_orm::policy::Action;

use serde_json::Value as Json;

use crate::access::{Access, authorize};
use crate::problem::Problem;
use crate::resource::Shared;

use crate::handlers::{Result, db};

/// The JSON body of a write: `application/json` only (a form or plain
/// text is what another site could make a browser send).
pub(crate) async fn json_body(s: &Shared, body: Body, limit: usize, parts: &Parts) -> Result<Json> {
    let bytes = body_bytes(s, body, limit, parts).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))
}

/// The bytes of a JSON body (see [`json_body`]).
pub(crate) async fn body_bytes(
    s: &Shared,
    body: Body,
    limit: usize,
    parts: &Parts,
) -> Result<Bytes> {
    let json = phial_core::content_type(&parts.headers).is_some_and(|t| {
        t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
    });
    if !json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "send `{}` rows as JSON, with `Content-Type: application/json`",
                s.meta.table
            ),
        ));
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes (config key `body_limit`)"),
        )
    })
}

/// The caller's access, the database and the JSON body of a write.
pub(crate) async fn write_input(
    s: &Shared,
    app: &AppState,
    parts: &Parts,
    body: Body,
    action: Action,
) -> Result<(Access, Db, Json)> {
    let access = authorize(s, parts, app, action).await?;
    let db = db(app)?;
    let body = json_body(s, body, app.core().body_limit, parts).await?;
    Ok((access, db, body))
}
