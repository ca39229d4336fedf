//! Moved to [`crate::query`], the one query layer under REST, the admin,
//! CSV export and feeds. These names stay for a release.

#[deprecated(note = "use phial_orm::query::column")]
pub use crate::query::column;
#[deprecated(note = "use phial_orm::query::compare_value")]
pub use crate::query::compare_value;
#[deprecated(note = "use phial_orm::query::contains")]
pub use crate::query::contains;
#[deprecated(note = "use phial_orm::query::like_pattern")]
pub use crate::query::like_pattern;
