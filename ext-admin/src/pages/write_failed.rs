//! How a write that did not happen is answered: the page and the
//! sentence for each reason.

use axum::response::Response;
use http::StatusCode;
use phial_orm::OrmError;

use super::Ctx;
use crate::model::WriteError;

/// A failed write as a message on the page it came from; a write outside
/// the user's rows is a 403 page, a refused one (a cascade, a revert) a
/// 409 page, each with the reason.
pub(crate) fn write_failed(ctx: &Ctx, back: &str, e: WriteError) -> Response {
    match e {
        WriteError::Outside(m) => ctx.error(StatusCode::FORBIDDEN, &m),
        WriteError::Refused(m) => ctx.error(StatusCode::CONFLICT, &m),
        e => ctx.redirect(back, "error", &write_message(e)),
    }
}

/// A failed write as a sentence.
pub(crate) fn write_message(e: WriteError) -> String {
    match e {
        WriteError::NotFound => "Those rows are gone (or out of your reach).".to_owned(),
        WriteError::Fields(errors) => errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join(" "),
        WriteError::Conflict(_) => {
            "Someone changed the row meanwhile: reload and try again.".to_owned()
        }
        WriteError::Action(m) => format!("The action failed: {m}"),
        WriteError::Db(e) => db_message(&e),
        WriteError::Outside(m) | WriteError::Refused(m) => m,
    }
}

/// A database failure as a sentence for the page.
pub(crate) fn db_message(e: &OrmError) -> String {
    if let OrmError::Db(db) = e {
        match db.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(m)) => {
                return format!("Another row already has this value ({m}).");
            }
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(m)) => {
                return format!(
                    "Other rows refer to it, or it refers to a row that does not exist ({m})."
                );
            }
            _ => {}
        }
    }
    tracing::error!("admin write failed: {e}");
    "The database refused the change; see the server's log.".to_owned()
}
