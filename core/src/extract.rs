//! Form and JSON extractors whose failures a client can act on: 415 for the
//! wrong content type, 400 for malformed JSON, 413 past the body limit, 422
//! listing the fields at fault; and [`Valid`], which runs `validator` rules.
//!
//! ```
//! use phial_core::{Form, Valid};
//! use serde::Deserialize;
//! use validator::Validate;
//!
//! #[derive(Deserialize, Validate)]
//! struct Entry {
//!     #[validate(length(min = 1, max = 80))]
//!     name: String,
//! }
//! async fn sign(Valid(Form(entry)): Valid<Form<Entry>>) -> String {
//!     format!("thanks, {}", entry.name)
//! }
//! ```

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::Serialize;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::HttpError;
use crate::error::is_length_limit;

/// A URL-encoded form body (or the query string, for GET).
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

/// A JSON body; as a response, serialises `T` as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// Runs `validator` rules on what the inner extractor produced.
#[derive(Debug, Clone, Copy, Default)]
pub struct Valid<E>(pub E);

/// A request's media type without its parameters, lower-cased
/// (`application/json` for `Application/JSON; charset=utf-8`); `None`
/// without a readable `Content-Type`. Every content-type check in Phial
/// reads it here.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
/// let mut headers = HeaderMap::new();
/// headers.insert(CONTENT_TYPE, HeaderValue::from_static("Application/JSON; charset=utf-8"));
/// assert_eq!(phial_core::content_type(&headers).as_deref(), Some("application/json"));
/// ```
pub fn content_type(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn request_content_type(req: &Request) -> String {
    content_type(req.headers()).unwrap_or_default()
}

async fn body_bytes(req: Request) -> Result<Bytes, HttpError> {
    axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                HttpError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is larger than the limit (config key `body_limit`)",
                )
            } else {
                HttpError::bad_request(format!("could not read the request body: {e}"))
            }
        })
}

/// Turns a serde error at a path into a 422 naming the field.
pub(crate) fn unprocessable(path: &serde_path_to_error::Path, message: String) -> HttpError {
    let mut field = path.to_string();
    let mut message = message;
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("").to_owned();
        field = if field == "." {
            name
        } else {
            format!("{field}.{name}")
        };
        message = "is required".into();
    }
    if field == "." {
        field = "_body".into();
    }
    HttpError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "the submitted data is invalid",
    )
    .with_field(field, message)
}

/// A form's encoded fields: the query string for GET and HEAD, else the
/// body, which must be `application/x-www-form-urlencoded` (415 otherwise).
pub(crate) async fn form_bytes(req: Request) -> Result<Bytes, HttpError> {
    if req.method() == http::Method::GET || req.method() == http::Method::HEAD {
        return Ok(Bytes::copy_from_slice(
            req.uri().query().unwrap_or("").as_bytes(),
        ));
    }
    let ct = request_content_type(&req);
    if ct != "application/x-www-form-urlencoded" {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected a form (application/x-www-form-urlencoded), got `{ct}`"),
        ));
    }
    body_bytes(req).await
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = form_bytes(req).await?;
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
        serde_path_to_error::deserialize(de)
            .map(Form)
            .map_err(|e| unprocessable(e.path(), e.inner().to_string()))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let ct = request_content_type(&req);
        if !(ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json")))
        {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("expected JSON (application/json), got `{ct}`"),
            ));
        }
        let bytes = body_bytes(req).await?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            if inner.is_data() {
                unprocessable(e.path(), inner.to_string())
            } else {
                HttpError::bad_request(format!("malformed JSON: {inner}"))
            }
        })?;
        de.end()
            .map_err(|e| HttpError::bad_request(format!("malformed JSON: {e}")))?;
        Ok(Json(value))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Extractors whose value [`Valid`] can check: [`Form`] and [`Json`], and
/// an app's own extractor once it says where its value is (so
/// `Valid<Query<T>>`-like wrappers answer the same 422 with every field).
///
/// ```
/// use phial_core::HasValidated;
/// use phial_core::validator::Validate;
///
/// /// A query string, checked by `Valid<Search<T>>`.
/// pub struct Search<T>(pub T);
///
/// impl<T: Validate> HasValidated for Search<T> {
///     type Value = T;
///     fn validated(&self) -> &T {
///         &self.0
///     }
/// }
/// ```
pub trait HasValidated {
    /// The checked value.
    type Value: Validate;
    /// Borrow it.
    fn validated(&self) -> &Self::Value;
}

impl<T: Validate> HasValidated for Form<T> {
    type Value = T;
    fn validated(&self) -> &T {
        &self.0
    }
}

impl<T: Validate> HasValidated for Json<T> {
    type Value = T;
    fn validated(&self) -> &T {
        &self.0
    }
}

fn flatten(prefix: &str, errors: &ValidationErrors, out: &mut HttpError) {
    for (field, kind) in errors.errors() {
        let name = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let msg = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe(e));
                    *out = std::mem::replace(out, HttpError::bad_request(""))
                        .with_field(name.clone(), msg);
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(&name, inner, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten(&format!("{name}[{i}]"), inner, out);
                }
            }
        }
    }
}

fn describe(e: &validator::ValidationError) -> String {
    let params: Vec<String> = e
        .params
        .iter()
        .filter(|(k, _)| *k != "value")
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if params.is_empty() {
        format!("fails the `{}` rule", e.code)
    } else {
        format!("fails the `{}` rule ({})", e.code, params.join(", "))
    }
}

/// The 422 for failed validation rules.
pub fn validation_error(errors: &ValidationErrors) -> HttpError {
    let mut out = HttpError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "the submitted data is invalid",
    );
    flatten("", errors, &mut out);
    out
}

impl<S, E> FromRequest<S> for Valid<E>
where
    S: Send + Sync,
    E: FromRequest<S, Rejection = HttpError> + HasValidated,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let inner = E::from_request(req, state).await?;
        inner
            .validated()
            .validate()
            .map_err(|e| validation_error(&e))?;
        Ok(Valid(inner))
    }
}
