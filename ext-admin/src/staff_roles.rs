//! Roles: named sets of per-model permissions, held by admin users.

use phial_orm::{Db, OrmError};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::audit_entries::Who;
use crate::staff_users::{AdminError, db_error};
use crate::{access, role, staff_log, user, user_role};

/// Creates a role (or replaces the grants of the one with that name):
/// `grants` is `table.permission` words (`post.view post.change`).
///
/// ```no_run
/// # async fn doc(db: phial_orm::Db) -> Result<(), phial_admin::AdminError> {
/// phial_admin::create_role(&db, "editor", "post.view post.change comment.delete").await?;
/// phial_admin::assign_role(&db, "ada", "editor").await?;
/// # Ok(()) }
/// ```
pub async fn create_role(db: &Db, name: &str, grants: &str) -> Result<role::Model, AdminError> {
    create_role_by(db, &Who::code(), name, grants).await
}

/// [`create_role`] by `who`, logged in the same transaction.
pub(crate) async fn create_role_by(
    db: &Db,
    who: &Who,
    name: &str,
    grants: &str,
) -> Result<role::Model, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AdminError::BadRole(name.to_owned()));
    }
    let parsed = access::parse_grants(grants).map_err(AdminError::BadGrant)?;
    let text = parsed
        .iter()
        .map(|(t, p)| format!("{t}.{}", p.word()))
        .collect::<Vec<_>>()
        .join(" ");
    let existing = role::Entity::find()
        .filter(role::Column::Name.eq(name))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    let saved = db
        .transaction(async |tx| {
            let saved = match &existing {
                Some(r) => {
                    let mut am: role::ActiveModel = r.clone().into();
                    am.permissions = Set(text);
                    am.update(&**tx).await?
                }
                None => {
                    role::ActiveModel {
                        name: Set(name.to_owned()),
                        permissions: Set(text),
                        ..Default::default()
                    }
                    .insert(&**tx)
                    .await?
                }
            };
            let action = if existing.is_some() {
                "change"
            } else {
                "create"
            };
            staff_log::role_event(&**tx, who, existing.as_ref(), Some(&saved), action).await?;
            Ok::<_, OrmError>(saved)
        })
        .await;
    saved.map_err(db_error)
}

/// Gives the user the role (nothing happens when they hold it already).
pub async fn assign_role(db: &Db, username: &str, role_name: &str) -> Result<(), AdminError> {
    assign_role_by(db, &Who::code(), username, role_name).await
}

/// [`assign_role`] by `who`, logged in the same transaction.
pub(crate) async fn assign_role_by(
    db: &Db,
    who: &Who,
    username: &str,
    role_name: &str,
) -> Result<(), AdminError> {
    let u = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db.conn())
        .await
        .map_err(db_error)?
        .ok_or_else(|| AdminError::NoSuchUser(username.to_owned()))?;
    let r = role::Entity::find()
        .filter(role::Column::Name.eq(role_name))
        .one(db.conn())
        .await
        .map_err(db_error)?
        .ok_or_else(|| AdminError::NoSuchRole(role_name.to_owned()))?;
    let held = user_role::Entity::find_by_id((u.id, r.id))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    if held.is_none() {
        db.transaction(async |tx| {
            let before = crate::staff_users::role_names(&**tx, u.id).await?;
            user_role::ActiveModel {
                user_id: Set(u.id),
                role_id: Set(r.id),
            }
            .insert(&**tx)
            .await?;
            let after = crate::staff_users::role_names(&**tx, u.id).await?;
            let changes = staff_log::user_changes(Some((&u, &before)), (&u, &after));
            staff_log::user_event(&**tx, who, &u, "grant", changes).await?;
            Ok::<_, OrmError>(())
        })
        .await
        .map_err(db_error)?;
    }
    Ok(())
}
