//! The blog's tables as sea-orm entities.

pub mod author;
pub mod comment;
pub mod post;

use sea_orm::ActiveValue;
use sea_orm::prelude::DateTimeUtc;

/// A new row's creation time, when nothing set it: every way in (the API,
/// the import, a handler) stamps rows the same.
pub(crate) fn stamp_created(created_at: &mut ActiveValue<DateTimeUtc>, insert: bool) {
    if insert && created_at.is_not_set() {
        *created_at = ActiveValue::Set(chrono::Utc::now());
    }
}
