//! The admin's own tables as sea-orm entities: staff users, roles, the
//! user–role link and the audit log (re-exported at the crate root:
//! `phial::admin::user::Entity`).

pub mod log;
pub mod role;
pub mod user;
pub mod user_role;
