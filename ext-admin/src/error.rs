//! What can go wrong managing the admin's staff: users, roles and grants
//! (from the CLI, code or the staff pages). Each message says what to do.

use phial_orm::OrmError;

/// The fewest characters a password may have.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Why a staff user, role or grant could not be created or found.
///
/// ```
/// use phial_admin::AdminError;
/// let e = AdminError::NoSuchUser("ada".into());
/// assert!(e.to_string().contains("admin create-user --username ada"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The name breaks the rules.
    #[error("username `{0}` is not allowed: use 1 to 150 letters, digits and @.+-_")]
    BadUsername(String),
    /// The name is taken.
    #[error("there is already an admin user `{0}`: choose another name")]
    UsernameTaken(String),
    /// The password is too short.
    #[error("the password is too short: use at least {MIN_PASSWORD_LEN} characters")]
    ShortPassword,
    /// The admin's table is not there: migrations were not applied.
    #[error("the admin's tables are not in the database yet: run `<app> db upgrade` first")]
    NotMigrated,
    /// A role name that cannot be stored.
    #[error("role name `{0}` is not allowed: use 1 to 80 characters")]
    BadRole(String),
    /// A grant that is not `table.permission`.
    #[error("{0}")]
    BadGrant(String),
    /// No user by that name.
    #[error("there is no admin user `{0}`: create it with `admin create-user --username {0}`")]
    NoSuchUser(String),
    /// No role by that name.
    #[error(
        "there is no role `{0}`: create it with `admin create-role --name {0} --grant \"table.view ...\"`"
    )]
    NoSuchRole(String),
    /// Hashing failed.
    #[error("hashing the password failed: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] OrmError),
}

fn table_missing(e: &OrmError) -> bool {
    let text = e.to_string().to_lowercase();
    text.contains("no such table")
        || text.contains("does not exist")
        || text.contains("doesn't exist")
}

pub(crate) fn db_error(e: impl Into<OrmError>) -> AdminError {
    let e = e.into();
    if table_missing(&e) {
        AdminError::NotMigrated
    } else {
        AdminError::Db(e)
    }
}
