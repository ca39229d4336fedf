//! [`Submission`]: a form the handler re-renders with its errors, Flask-WTF's
//! `validate_on_submit()` pattern. `Valid<Form<T>>` answers a bad form with
//! the framework's 422; a page wants its own template back, with a message
//! next to each field and the values the user typed.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::error::HttpError;
use crate::extract::{form_bytes, unprocessable, validation_error};

/// A submitted form: the valid value, or what to show the user.
///
/// Malformed requests (wrong content type, body past the limit) are still
/// rejected with their 4xx; everything about the fields — missing, of the
/// wrong type, failing a `validator` rule — comes to the handler.
///
/// ```
/// use phial_core::{Submission, Templates, HttpError};
/// use axum::response::{IntoResponse, Redirect, Response};
/// use http::StatusCode;
/// use serde::Deserialize;
/// use validator::Validate;
///
/// #[derive(Deserialize, Validate)]
/// struct NewBookmark {
///     #[validate(url(message = "must be a URL"))]
///     url: String,
/// }
///
/// async fn create(tpl: Templates, form: Submission<NewBookmark>) -> Result<Response, HttpError> {
///     match form {
///         Submission::Valid(bookmark) => Ok(Redirect::to("/").into_response()),
///         // The template shows `errors.fields.url` and refills `errors.values.url`;
///         // 422 tells scripts and tests the form was refused.
///         Submission::Invalid(errors) => {
///             let page = tpl.render("new.html", phial_core::context! { errors })?;
///             Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub enum Submission<T> {
    /// Every field parsed and passed its rules.
    Valid(T),
    /// Messages by field, and the values as submitted.
    Invalid(FormErrors),
}

impl<T> Submission<T> {
    /// The value, or the errors.
    pub fn into_result(self) -> Result<T, FormErrors> {
        match self {
            Submission::Valid(v) => Ok(v),
            Submission::Invalid(e) => Err(e),
        }
    }
}

/// What a template needs to show a form again: `fields` (messages by field
/// name) and `values` (what the user typed, by field name).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FormErrors {
    /// Messages by field name (`_form` for the form as a whole).
    pub fields: BTreeMap<String, Vec<String>>,
    /// The submitted values by field name (the last one when repeated).
    pub values: BTreeMap<String, String>,
}

impl FormErrors {
    /// The messages for one field.
    pub fn field(&self, name: &str) -> &[String] {
        self.fields.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// What the user typed in one field (empty when nothing).
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    fn from_http(error: &HttpError, values: BTreeMap<String, String>) -> Self {
        FormErrors {
            fields: error.fields().clone(),
            values,
        }
    }
}

impl<T, S> FromRequest<S> for Submission<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes: Bytes = form_bytes(req).await?;
        let values: BTreeMap<String, String> = form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
        let value: T = match serde_path_to_error::deserialize(de) {
            Ok(v) => v,
            Err(e) => {
                let error = unprocessable(e.path(), e.inner().to_string());
                return Ok(Submission::Invalid(FormErrors::from_http(&error, values)));
            }
        };
        match value.validate() {
            Ok(()) => Ok(Submission::Valid(value)),
            Err(e) => Ok(Submission::Invalid(FormErrors::from_http(
                &validation_error(&e),
                values,
            ))),
        }
    }
}
