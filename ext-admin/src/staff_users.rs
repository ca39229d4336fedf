//! Admin users: created with a checked name and an scrypt hash, and signed
//! in by name and password.

use phial_orm::{Db, OrmError};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};

use crate::audit_entries::Who;
pub(crate) use crate::error::{AdminError, MIN_PASSWORD_LEN, db_error};
use crate::{role, staff_log, user, user_role};

/// Replaces the roles of user `id` with `roles` (ids); returns their names,
/// sorted (unknown ids are refused by the database).
pub(crate) async fn set_roles<C: ConnectionTrait>(
    conn: &C,
    id: i32,
    roles: &[i32],
) -> Result<Vec<String>, DbErr> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(id))
        .exec(conn)
        .await?;
    for r in roles {
        user_role::ActiveModel {
            user_id: Set(id),
            role_id: Set(*r),
        }
        .insert(conn)
        .await?;
    }
    role_names(conn, id).await
}

/// The names of the roles user `id` holds, sorted.
pub(crate) async fn role_names<C: ConnectionTrait>(
    conn: &C,
    id: i32,
) -> Result<Vec<String>, DbErr> {
    let ids: Vec<i32> = user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.role_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = role::Entity::find()
        .filter(role::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    Ok(names)
}

/// Whether `name` is a valid username (Django's rule).
pub(crate) fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 150
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
}

/// Creates an admin user (active), checking the name and the password.
///
/// ```no_run
/// # async fn doc(db: phial_orm::Db) -> Result<(), phial_admin::AdminError> {
/// let ada = phial_admin::create_user(&db, "ada", "correct horse battery", true).await?;
/// assert!(ada.is_superuser);
/// # Ok(()) }
/// ```
pub async fn create_user(
    db: &Db,
    username: &str,
    password: &str,
    superuser: bool,
) -> Result<user::Model, AdminError> {
    create_user_by(db, &Who::code(), username, password, superuser, &[]).await
}

/// [`create_user`] by `who`, with `roles` (ids) given at once; logged
/// with them, in the same transaction.
pub(crate) async fn create_user_by(
    db: &Db,
    who: &Who,
    username: &str,
    password: &str,
    superuser: bool,
    roles: &[i32],
) -> Result<user::Model, AdminError> {
    if !valid_username(username) {
        return Err(AdminError::BadUsername(username.to_owned()));
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AdminError::ShortPassword);
    }
    let taken = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    if taken.is_some() {
        return Err(AdminError::UsernameTaken(username.to_owned()));
    }
    let hash = phial_core::password::hash(password)
        .await
        .map_err(|e| AdminError::Hash(e.to_string()))?;
    let created = db
        .transaction(async |tx| {
            let u = tx
                .insert(user::ActiveModel {
                    username: Set(username.to_owned()),
                    password_hash: Set(hash),
                    is_superuser: Set(superuser),
                    is_active: Set(true),
                    created_at: Set(chrono::Utc::now()),
                    ..Default::default()
                })
                .await?;
            let names = set_roles(&**tx, u.id, roles).await?;
            let changes = staff_log::user_changes(None, (&u, &names));
            staff_log::user_event(&**tx, who, &u, "create", changes).await?;
            Ok::<_, OrmError>(u)
        })
        .await;
    match created {
        Ok(model) => Ok(model),
        // Two creations racing: the unique index decides.
        Err(OrmError::Db(e))
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Err(AdminError::UsernameTaken(username.to_owned()))
        }
        Err(e) => Err(db_error(e)),
    }
}

/// The active user with this name and password, if any (for scripts and
/// tests: requests sign in through `phial::auth`'s `Accounts<Staff>`, which
/// also throttles). The hash is checked even for unknown names, so timing
/// does not tell which names exist.
pub async fn authenticate(
    db: &Db,
    username: &str,
    password: &str,
) -> Result<Option<user::Model>, AdminError> {
    let found = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    // Unknown names cost a verify too.
    let ok = match &found {
        Some(u) => phial_core::password::verify(password, &u.password_hash).await,
        None => phial_core::password::verify_unknown(password).await,
    }
    .unwrap_or(false);
    Ok(found.filter(|u| ok && u.is_active))
}
