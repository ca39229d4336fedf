//! The one query layer under every list: REST collections, the admin's
//! list pages and CSV export read the same grammar with the same parser,
//! build the same conditions and count the same bounded way, so one
//! model answers to one query string everywhere. [`Model`] is the one
//! bound they put on an entity.
//!
//! - [`grammar`]: `page`, `per_page`, `cursor`, `sort`, `q` and filters
//!   `field__op=value` ([`Op`]) checked against [`ListRules`];
//! - [`condition()`], [`after_cursor`], [`ordered`]: the checked query as SQL;
//! - [`cursor`]: opaque keyset cursors;
//! - [`count`]: bounded counts and the database's estimate;
//! - [`link()`]: the same list with a parameter changed;
//! - [`key`]: a row's key in a URL, one form on every surface;
//! - [`indexes`]: which columns a list uses that no index serves;
//! - [`column()`], [`contains`], [`compare_value`]: the pieces (a column by
//!   name, a case-blind `LIKE` that escapes wildcards, a value typed
//!   against its field).
//!
//! Every refusal is a [`QueryError`] naming the parameter, a 400 on every
//! surface.

mod condition;
pub mod count;
pub mod cursor;
mod error;
pub mod grammar;
pub mod indexes;
pub mod key;
mod link;
mod model;
mod values;

pub use condition::{after_cursor, condition, filtered, ordered};
pub use count::Total;
pub use error::QueryError;
pub use grammar::{Filter, ListQuery, ListRules, MAX_PAGE, Op, RESERVED, parse, parse_pairs};
pub use link::link;
pub use model::Model;
pub use values::{column, compare_value, contains, like_pattern};
