//! Errors as RFC 9457 problem details (`application/problem+json`): a
//! status, a title, a detail for people, and for bad input the fields at
//! fault, every one of them.
//!
//! ```
//! use phial_rest::Problem;
//! let p = Problem::bad_request("`colour` is not filterable");
//! assert_eq!(p.status().as_u16(), 400);
//! ```

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use phial_orm::OrmError;
use phial_orm::meta::ModelMeta;
use phial_orm::meta::json::FieldError;
use sea_orm::SqlErr;
use serde::Serialize;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One problem, ready to be a response.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: String,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ProblemField>,
    /// Answer with `WWW-Authenticate: Bearer` (a 401 a token would pass).
    #[serde(skip)]
    bearer: bool,
}

/// A field at fault, in a problem's `errors`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProblemField {
    /// The row of a bulk request, counted from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The field (`""` for the body as a whole).
    pub field: String,
    /// A machine-readable code (`required`, `too_long`, ...).
    pub code: String,
    /// What is wrong.
    pub message: String,
}

impl From<phial_orm::query::QueryError> for Problem {
    fn from(e: phial_orm::query::QueryError) -> Self {
        Problem::bad_request(e.message().to_owned())
    }
}

impl From<FieldError> for ProblemField {
    fn from(e: FieldError) -> Self {
        ProblemField {
            index: None,
            field: e.field,
            code: e.code.to_owned(),
            message: e.message,
        }
    }
}

impl Problem {
    /// A problem with `status` and a detail for people.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            bearer: false,
        }
    }

    /// The same problem with another detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Invites a bearer token (`WWW-Authenticate: Bearer`), for a 401.
    pub fn with_bearer_challenge(mut self) -> Self {
        self.bearer = true;
        self
    }

    /// 400: a malformed request (query parameters, headers, JSON syntax).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404 for a row that does not exist (or that the caller may not see).
    pub fn not_found(table: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, format!("no such `{table}` row"))
    }

    /// 422 listing every field at fault.
    pub fn invalid(errors: impl IntoIterator<Item = ProblemField>) -> Self {
        let errors: Vec<ProblemField> = errors.into_iter().collect();
        let detail = match errors.len() {
            1 => errors[0].message.clone(),
            n => format!("{n} fields are invalid: see `errors`"),
        };
        let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail);
        p.errors = errors;
        p
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The fields at fault.
    pub fn errors(&self) -> &[ProblemField] {
        &self.errors
    }

    /// A database error on a delete from `meta`'s table: a row other rows
    /// still refer to is a 409 naming them; otherwise as [`from_db`](Self::from_db).
    pub fn from_db_delete(meta: &ModelMeta, e: OrmError) -> Self {
        let referenced = matches!(&e, OrmError::Db(db)
            if matches!(db.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))));
        if !referenced {
            return Problem::from_db(meta, e);
        }
        let by: Vec<&str> = meta
            .relations
            .iter()
            .filter(|r| r.kind != phial_orm::meta::RelationKind::BelongsTo)
            .map(|r| r.table.as_str())
            .collect();
        Problem::new(
            StatusCode::CONFLICT,
            format!(
                "the `{}` row is still referred to{}: delete or change those rows first",
                meta.table,
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" by `{}` rows", by.join("`, `"))
                }
            ),
        )
    }

    /// A database error on a write to `meta`'s table: unique values 409,
    /// references to missing rows 422 naming the foreign keys, an
    /// unavailable database 503, anything else a logged 500.
    pub fn from_db(meta: &ModelMeta, e: OrmError) -> Self {
        let sql = match &e {
            OrmError::Db(db) => db.sql_err(),
            _ => None,
        };
        match sql {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                let unique: Vec<&str> = meta
                    .fields
                    .iter()
                    .filter(|f| f.unique && !f.auto_increment)
                    .map(|f| f.name.as_str())
                    .collect();
                let detail = if unique.is_empty() {
                    format!("a `{}` row with the same key already exists", meta.table)
                } else {
                    format!(
                        "a `{}` row with the same unique value already exists ({})",
                        meta.table,
                        unique.join(", ")
                    )
                };
                Problem::new(StatusCode::CONFLICT, detail)
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                let fields = meta
                    .relations
                    .iter()
                    .filter(|r| r.kind == phial_orm::meta::RelationKind::BelongsTo)
                    .flat_map(|r| {
                        r.from.iter().map(move |c| ProblemField {
                            index: None,
                            field: c.clone(),
                            code: "no_such_row".into(),
                            message: format!("`{c}` must refer to an existing `{}` row", r.table),
                        })
                    });
                let mut p = Problem::invalid(fields);
                p.detail =
                    "the row refers to a row that does not exist (or is still referred to)".into();
                p
            }
            // A column narrower in the database than in the entity (the
            // entity should say its length; this keeps it a client error).
            _ if too_long(&e) => Problem::invalid([ProblemField {
                index: None,
                field: String::new(),
                code: "too_long".into(),
                message: format!("a value is longer than its `{}` column allows", meta.table),
            }]),
            _ if matches!(e, OrmError::Refused(_)) => {
                // Nothing saved: a shared cache could not be told.
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            _ if e.is_unavailable() => {
                tracing::warn!("database unavailable: {e}");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable; try again shortly",
                )
            }
            _ => Problem::internal(&e),
        }
    }

    /// A logged 500 that says nothing of the cause.
    pub fn internal(e: &dyn std::fmt::Display) -> Self {
        tracing::error!("REST request failed: {e}");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not complete the request; the error is logged",
        )
    }
}

/// PostgreSQL's `value too long` (22001) and MySQL's `Data too long`.
fn too_long(e: &OrmError) -> bool {
    let text = e.to_string();
    text.contains("value too long") || text.contains("Data too long")
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.bearer {
            res.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}
