//! Opaque cursors: the order's key values of the last row a page showed,
//! as base64url JSON. A client gets them from a page and gives them back;
//! what it makes up itself is refused with a 400, never passed to SQL
//! unchecked (each value is typed against its field like a filter).

use base64::Engine as _;
use serde_json::Value as Json;

use super::error::QueryError;

/// The cursor for a row whose order keys hold `values`.
///
/// ```
/// use phial_orm::query::cursor;
/// let c = cursor::encode(&[serde_json::json!(7)]);
/// assert_eq!(cursor::decode(&c).unwrap(), vec![serde_json::json!(7)]);
/// assert!(cursor::decode("not a cursor").is_err());
/// ```
pub fn encode(values: &[Json]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Json::Array(values.to_vec()).to_string())
}

/// The values a cursor holds; a 400 for anything this layer did not give.
pub fn decode(s: &str) -> Result<Vec<Json>, QueryError> {
    let bad = || QueryError::new("cursor", "`cursor` is not one this API gave out");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| bad())?;
    match serde_json::from_slice(&bytes) {
        Ok(Json::Array(values)) => Ok(values),
        _ => Err(bad()),
    }
}
