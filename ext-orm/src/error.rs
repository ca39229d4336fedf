//! Database errors: at startup (they name the database and the URL with
//! the password hidden) and in requests (a database that is down or busy is
//! a 503 that clients may retry, anything else a 500).

use axum::response::{IntoResponse, Response};
use phial_core::HttpError;
use sea_orm::{DbErr, SqlErr};

/// What can go wrong in `phial-orm`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrmError {
    /// A database could not be reached at startup.
    #[error(
        "database `{name}` at {url} cannot be reached: {reason}. Check `database.url` (PHIAL_DATABASE__URL) and that the server is running"
    )]
    Connect {
        /// `default` or the bind's name.
        name: String,
        /// The URL, password hidden.
        url: String,
        /// The driver's message.
        reason: String,
    },
    /// A bind name that is not configured.
    #[error("no database bind named `{0}`: add it under [database.binds.{0}]")]
    UnknownBind(String),
    /// A numbered page that starts past any row a database can address
    /// (`OFFSET` beyond 2^63 - 1): the client's mistake, a 400.
    #[error(
        "page {page} with {per_page} rows per page starts beyond any table: pages go up to {max_page}"
    )]
    PageOutOfRange {
        /// The page asked for.
        page: u64,
        /// Rows per page.
        per_page: u64,
        /// The last page that can be fetched with `per_page`.
        max_page: u64,
    },
    /// A page past the last one (page 1 of nothing is an empty page).
    #[error("page {page} is past the last page ({last_page})")]
    PagePastEnd {
        /// The page asked for.
        page: u64,
        /// The last page there is.
        last_page: u64,
    },
    /// A query failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// A guard of the change feed refused the write before it ran (a
    /// shared cache that cannot be told): nothing was saved; a 503.
    #[error(transparent)]
    Refused(#[from] phial_core::changes::Refused),
}

impl OrmError {
    /// Whether the error means the database is unavailable (down, restarting,
    /// pool exhausted) rather than a bad query.
    pub fn is_unavailable(&self) -> bool {
        match self {
            OrmError::Connect { .. } => true,
            OrmError::Db(e) => {
                matches!(e, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) || is_io(e)
            }
            OrmError::UnknownBind(_)
            | OrmError::PageOutOfRange { .. }
            | OrmError::PagePastEnd { .. }
            | OrmError::Refused(_) => false,
        }
    }
}

fn is_io(e: &DbErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    [
        "connection refused",
        "broken pipe",
        "connection reset",
        "pool timed out",
        "io error",
        "terminating connection",
        // sqlx's `Error::Io`: the connection closed mid-query (a database
        // restarted, or the network between cut).
        "error communicating with database",
        "pool closed",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

impl From<OrmError> for HttpError {
    fn from(e: OrmError) -> Self {
        if let OrmError::PageOutOfRange { page, per_page, .. } = e {
            return crate::pagination::too_large(page, per_page);
        }
        if let OrmError::Refused(refused) = e {
            return refused.into();
        }
        if let OrmError::PagePastEnd { page, last_page } = e {
            return HttpError::bad_request(format!(
                "`page` {page} is past the last page: pages go from 1 to {last_page}"
            ))
            .with_field("page", format!("must be at most {last_page}"));
        }
        // Constraint violations are the client's data, not a server fault.
        let violation = if let OrmError::Db(db) = &e {
            db.sql_err()
        } else {
            None
        };
        match violation {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                return HttpError::new(
                    http::StatusCode::CONFLICT,
                    "a row with the same unique value already exists",
                );
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                return HttpError::new(
                    http::StatusCode::UNPROCESSABLE_ENTITY,
                    "the data refers to a row that does not exist (or is still referred to)",
                );
            }
            _ => {}
        }
        if e.is_unavailable() {
            tracing::warn!("database unavailable: {e}");
            HttpError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; try again shortly",
            )
        } else {
            tracing::error!("database error: {e}");
            HttpError::internal(format!("database error: {e}"))
        }
    }
}

impl IntoResponse for OrmError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_lost_mid_query_is_unavailability_not_a_bug() {
        let lost = DbErr::Query(sea_orm::RuntimeErr::Internal(
            "error communicating with database: expected to read 5 bytes, got 0 bytes at EOF"
                .into(),
        ));
        assert!(OrmError::Db(lost).is_unavailable());
        let refused = DbErr::Exec(sea_orm::RuntimeErr::Internal(
            "error communicating with database: Connection refused (os error 111)".into(),
        ));
        assert!(OrmError::Db(refused).is_unavailable());
        // The control: a query the database rejects is not.
        let bad = DbErr::Query(sea_orm::RuntimeErr::Internal(
            "error returned from database: syntax error at or near \"SELEC\"".into(),
        ));
        assert!(!OrmError::Db(bad).is_unavailable());
    }
}
