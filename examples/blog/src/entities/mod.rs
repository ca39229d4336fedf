//! The blog's tables as sea-orm entities.

pub mod author;
pub mod comment;
pub mod post;
