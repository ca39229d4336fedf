//! Staff users and roles, edited in the panel by superusers: a user's
//! flags, password and roles; a role's grants as a matrix of models by
//! Django's four permissions. (The CLI does the same: `admin create-user`,
//! `admin create-role`, `admin grant-role`.)
//!
//! One file: the staff users' and roles' pages share the superuser check,
//! the form rendering and their log entries.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use http::StatusCode;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value as Json, json};

use super::{Ctx, pairs, value};
use crate::access::{Permission, parse_grants};
use crate::{MIN_PASSWORD_LEN, role, staff_log, staff_users, user, user_role};

fn superuser_only(ctx: &Ctx) -> Option<Response> {
    (!ctx.staff.superuser).then(|| {
        ctx.error(
            StatusCode::FORBIDDEN,
            "Only superusers manage staff users and roles.",
        )
    })
}

fn db_err(ctx: &Ctx, e: impl std::fmt::Display) -> Response {
    ctx.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

/// `GET /admin/access/users/`
pub(crate) async fn users(ctx: Ctx) -> Response {
    if let Some(r) = superuser_only(&ctx) {
        return r;
    }
    let conn = ctx.db.conn();
    let all = match user::Entity::find()
        .order_by_asc(user::Column::Username)
        .all(conn)
        .await
    {
        Ok(u) => u,
        Err(e) => return db_err(&ctx, e),
    };
    let links = user_role::Entity::find()
        .all(conn)
        .await
        .unwrap_or_default();
    let roles = role::Entity::find().all(conn).await.unwrap_or_default();
    let rows: Vec<Json> = all
        .iter()
        .map(|u| {
            let names: Vec<&str> = links
                .iter()
                .filter(|l| l.user_id == u.id)
                .filter_map(|l| roles.iter().find(|r| r.id == l.role_id))
                .map(|r| r.name.as_str())
                .collect();
            json!({
                "username": u.username,
                "superuser": u.is_superuser,
                "active": u.is_active,
                "roles": names,
                "created": u.created_at.format("%Y-%m-%d").to_string(),
                "url": ctx.reg.url(&format!("access/users/{}", u.id)),
            })
        })
        .collect();
    ctx.render(
        "admin/access_users.html",
        "access/users",
        "Staff users",
        json!({"users": rows, "new_url": ctx.reg.url("access/users/new")}),
    )
}

async fn role_choices(ctx: &Ctx, held: &BTreeSet<i32>) -> Vec<Json> {
    role::Entity::find()
        .order_by_asc(role::Column::Name)
        .all(ctx.db.conn())
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name, "checked": held.contains(&r.id), "grants": r.permissions}))
        .collect()
}

async fn user_page(
    ctx: &Ctx,
    target: Option<&user::Model>,
    held: &BTreeSet<i32>,
    error: Option<String>,
    typed_name: &str,
) -> Response {
    let title = match target {
        Some(u) => format!("Staff user {}", u.username),
        None => "Add staff user".to_owned(),
    };
    ctx.render(
        "admin/access_user.html",
        "access/users",
        &title,
        json!({
            "target": target.map(|u| json!({"username": u.username, "superuser": u.is_superuser, "active": u.is_active})),
            "sign_out_url": target.map(|u| ctx.reg.url(&format!("access/users/{}/sign-out", u.id))),
            "username": typed_name,
            "roles": role_choices(ctx, held).await,
            "error": error,
            "min_password": MIN_PASSWORD_LEN,
            "action_url": match target {
                Some(u) => ctx.reg.url(&format!("access/users/{}", u.id)),
                None => ctx.reg.url("access/users/new"),
            },
            "back_url": ctx.reg.url("access/users/"),
        }),
    )
}

/// A form page refused for what was sent.
fn failed(mut r: Response) -> Response {
    if r.status() == StatusCode::OK {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

async fn held_roles(ctx: &Ctx, id: i32) -> BTreeSet<i32> {
    user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(id))
        .all(ctx.db.conn())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.role_id)
        .collect()
}

/// `GET /admin/access/users/new`
pub(crate) async fn new_user_form(ctx: Ctx) -> Response {
    if let Some(r) = superuser_only(&ctx) {
        return r;
    }
    user_page(&ctx, None, &BTreeSet::new(), None, "").await
}

fn checked_roles(form: &[(String, String)]) -> BTreeSet<i32> {
    form.iter()
        .filter(|(k, _)| k == "role")
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}

/// `POST /admin/access/users/new`
pub(crate) async fn new_user(ctx: Ctx, body: Bytes) -> Response {
    if let Some(r) = superuser_only(&ctx) {
        return r;
    }
    let form = pairs(&body);
    let name = value(&form, "username").unwrap_or("").trim().to_owned();
    let password = value(&form, "password").unwrap_or("");
    let superuser = value(&form, "superuser") == Some("true");
    let roles = checked_roles(&form);
    let ids: Vec<i32> = roles.iter().copied().collect();
    match crate::staff_users::create_user_by(&ctx.db, &ctx.who(), &name, password, superuser, &ids)
        .await
    {
        Ok(u) => ctx.redirect(
            &ctx.reg.url("access/users/"),
            "success",
            &format!("Added staff user {}.", u.username),
        ),
        Err(e) => failed(user_page(&ctx, None, &roles, Some(e.to_string()), &name).await),
    }
}

async fn find_user(ctx: &Ctx, id: &str) -> Result<user::Model, Response> {
    let missing = || ctx.error(StatusCode::NOT_FOUND, "No such staff user.");
    let id: i32 = id.parse().map_err(|_| missing())?;
    user::Entity::find_by_id(id)
        .one(ctx.db.conn())
        .await
        .map_err(|e| db_err(ctx, e))?
        .ok_or_else(missing)
}

/// `GET /admin/access/users/{id}`
pub(crate) async fn user_form(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    if let Some(r) = superuser_only(&ctx) {
        return Err(r);
    }
    let u = find_user(&ctx, &id).await?;
    let held = held_roles(&ctx, u.id).await;
    Ok(user_page(&ctx, Some(&u), &held, None, "").await)
}

/// `POST /admin/access/users/{id}`: flags, roles, and a new password when
/// one is given. A superuser cannot take their own rights away (someone
/// must be left to give them back).
pub(crate) async fn user_save(
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Response> {
    if let Some(r) = superuser_only(&ctx) {
        return Err(r);
    }
    let u = find_user(&ctx, &id).await?;
    let form = pairs(&body);
    let superuser = value(&form, "superuser") == Some("true");
    let active = value(&form, "active") == Some("true");
    let roles = checked_roles(&form);
    let password = value(&form, "password").unwrap_or("");
    if u.id == ctx.staff.id && (!superuser || !active) {
        let e = "You cannot take away your own superuser rights or deactivate yourself: ask another superuser.".to_owned();
        return Err(failed(user_page(&ctx, Some(&u), &roles, Some(e), "").await));
    }
    let mut am: user::ActiveModel = u.clone().into();
    am.is_superuser = Set(superuser);
    am.is_active = Set(active);
    let new_password = !password.is_empty();
    if new_password {
        if password.chars().count() < MIN_PASSWORD_LEN {
            let e =
                format!("The password is too short: use at least {MIN_PASSWORD_LEN} characters.");
            return Err(failed(user_page(&ctx, Some(&u), &roles, Some(e), "").await));
        }
        match phial_core::password::hash(password).await {
            Ok(h) => am.password_hash = Set(h),
            Err(e) => return Err(db_err(&ctx, e)),
        }
    }
    let held = held_roles(&ctx, u.id).await;
    let who = ctx.who();
    let ids: Vec<i32> = roles.iter().copied().collect();
    // The change, its roles and its log entries land together.
    let saved = ctx
        .db
        .transaction(async |tx| {
            let before_roles = staff_users::role_names(&**tx, u.id).await?;
            let saved = am.update(&**tx).await?;
            let after_roles = staff_users::set_roles(&**tx, u.id, &ids).await?;
            let changes =
                staff_log::user_changes(Some((&u, &before_roles)), (&saved, &after_roles));
            if !changes.is_empty() {
                staff_log::user_event(&**tx, &who, &saved, "change", changes).await?;
            }
            if new_password {
                staff_log::user_event(&**tx, &who, &saved, "password", Default::default()).await?;
            }
            Ok::<_, phial_orm::OrmError>(())
        })
        .await;
    if let Err(e) = saved {
        return Err(db_err(&ctx, e));
    }
    // A new password or deactivation ends the user's sign-ins on every
    // node (their requests would be refused anyway: the credentials'
    // fingerprint and the active flag are checked on each); new rights
    // reach their open sockets, which reconnect with them.
    let Ok(accounts) = phial_auth::Accounts::<crate::Staff>::of(&ctx.app) else {
        return Err(db_err(&ctx, "the staff realm is not registered"));
    };
    let id = u.id.to_string();
    if new_password || (!active && u.is_active) {
        if let Err(e) = accounts.logout_everywhere(&id).await {
            return Err(db_err(&ctx, e));
        }
    } else if held != roles || superuser != u.is_superuser {
        accounts.user_changed(&id);
    }
    Ok(ctx.redirect(
        &ctx.reg.url("access/users/"),
        "success",
        &format!("Saved staff user {}.", u.username),
    ))
}

/// `POST /admin/access/users/{id}/sign-out`: ends every sign-in of the
/// user, on every node (a lost laptop). Superusers for anyone; anyone for
/// themselves.
pub(crate) async fn sign_out_everywhere(
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let u = find_user(&ctx, &id).await?;
    if u.id != ctx.staff.id
        && let Some(r) = superuser_only(&ctx)
    {
        return Err(r);
    }
    let Ok(accounts) = phial_auth::Accounts::<crate::Staff>::of(&ctx.app) else {
        return Err(db_err(&ctx, "the staff realm is not registered"));
    };
    if let Err(e) = accounts.logout_everywhere(&u.id.to_string()).await {
        return Err(db_err(&ctx, e));
    }
    if let Err(e) = staff_log::user_event(
        ctx.db.conn(),
        &ctx.who(),
        &u,
        "sign_out_everywhere",
        Default::default(),
    )
    .await
    {
        return Err(db_err(&ctx, e));
    }
    let to = if u.id == ctx.staff.id {
        ctx.reg.url("login")
    } else {
        ctx.reg.url("access/users/")
    };
    Ok(ctx.redirect(
        &to,
        "success",
        &format!(
            "Every sign-in of {} has ended, on every device.",
            u.username
        ),
    ))
}

/// `GET /admin/access/roles/`
pub(crate) async fn roles(ctx: Ctx) -> Response {
    if let Some(r) = superuser_only(&ctx) {
        return r;
    }
    let all = match role::Entity::find()
        .order_by_asc(role::Column::Name)
        .all(ctx.db.conn())
        .await
    {
        Ok(r) => r,
        Err(e) => return db_err(&ctx, e),
    };
    let rows: Vec<Json> = all
        .iter()
        .map(|r| json!({"name": r.name, "grants": r.permissions.split_whitespace().collect::<Vec<_>>(), "url": ctx.reg.url(&format!("access/roles/{}", r.id))}))
        .collect();
    ctx.render(
        "admin/access_roles.html",
        "access/roles",
        "Roles",
        json!({"roles": rows, "new_url": ctx.reg.url("access/roles/new")}),
    )
}

fn matrix(ctx: &Ctx, grants: &BTreeSet<(String, Permission)>) -> Vec<Json> {
    let mut tables: Vec<(String, String)> = ctx
        .reg
        .models
        .iter()
        .map(|m| (m.spec().meta.table.clone(), m.spec().label.clone()))
        .collect();
    // Grants on tables the panel does not show (used by the API) stay.
    for (t, _) in grants {
        if !tables.iter().any(|(x, _)| x == t) {
            tables.push((t.clone(), t.clone()));
        }
    }
    tables
        .iter()
        .map(|(t, label)| {
            json!({
                "table": t,
                "label": label,
                "cells": Permission::ALL.iter().map(|p| json!({
                    "value": format!("{t}.{}", p.word()),
                    "checked": grants.contains(&(t.clone(), *p)),
                    "label": format!("{} {label}", p.word()),
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn role_page(
    ctx: &Ctx,
    target: Option<&role::Model>,
    name: &str,
    grants: &BTreeSet<(String, Permission)>,
    error: Option<String>,
) -> Response {
    let title = match target {
        Some(r) => format!("Role {}", r.name),
        None => "Add role".to_owned(),
    };
    ctx.render(
        "admin/access_role.html",
        "access/roles",
        &title,
        json!({
            "name": name,
            "matrix": matrix(ctx, grants),
            "permissions": Permission::ALL.iter().map(|p| p.word()).collect::<Vec<_>>(),
            "error": error,
            "action_url": match target {
                Some(r) => ctx.reg.url(&format!("access/roles/{}", r.id)),
                None => ctx.reg.url("access/roles/new"),
            },
            "back_url": ctx.reg.url("access/roles/"),
        }),
    )
}

/// `GET /admin/access/roles/new`
pub(crate) async fn new_role_form(ctx: Ctx) -> Response {
    if let Some(r) = superuser_only(&ctx) {
        return r;
    }
    role_page(&ctx, None, "", &BTreeSet::new(), None)
}

async fn find_role(ctx: &Ctx, id: &str) -> Result<role::Model, Response> {
    let missing = || ctx.error(StatusCode::NOT_FOUND, "No such role.");
    let id: i32 = id.parse().map_err(|_| missing())?;
    role::Entity::find_by_id(id)
        .one(ctx.db.conn())
        .await
        .map_err(|e| db_err(ctx, e))?
        .ok_or_else(missing)
}

/// `GET /admin/access/roles/{id}`
pub(crate) async fn role_form(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    if let Some(r) = superuser_only(&ctx) {
        return Err(r);
    }
    let r = find_role(&ctx, &id).await?;
    let grants = parse_grants(&r.permissions).unwrap_or_default();
    Ok(role_page(&ctx, Some(&r), &r.name, &grants, None))
}

/// `POST /admin/access/roles/new` and `POST /admin/access/roles/{id}`
async fn save_role(ctx: Ctx, target: Option<role::Model>, body: Bytes) -> Response {
    let form = pairs(&body);
    let name = value(&form, "name").unwrap_or("").trim().to_owned();
    let words: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "grant")
        .map(|(_, v)| v.as_str())
        .collect();
    let grants = match parse_grants(&words.join(" ")) {
        Ok(g) => g,
        Err(e) => {
            return failed(role_page(
                &ctx,
                target.as_ref(),
                &name,
                &BTreeSet::new(),
                Some(e),
            ));
        }
    };
    if value(&form, "delete") == Some("1") {
        if let Some(r) = &target {
            let who = ctx.who();
            let deleted = ctx
                .db
                .transaction(async |tx| {
                    role::Entity::delete_by_id(r.id).exec(&**tx).await?;
                    staff_log::role_event(&**tx, &who, Some(r), None, "delete").await?;
                    Ok::<_, phial_orm::OrmError>(())
                })
                .await;
            if let Err(e) = deleted {
                return db_err(&ctx, e);
            }
        }
        return ctx.redirect(
            &ctx.reg.url("access/roles/"),
            "success",
            &format!("Deleted role {name}."),
        );
    }
    let taken = role::Entity::find()
        .filter(role::Column::Name.eq(name.as_str()))
        .one(ctx.db.conn())
        .await
        .ok()
        .flatten()
        .is_some_and(|r| target.as_ref().is_none_or(|t| t.id != r.id));
    if name.is_empty() || name.chars().count() > 80 || taken {
        let e = if taken {
            format!("There is already a role {name}.")
        } else {
            "Name the role (1 to 80 characters).".to_owned()
        };
        return failed(role_page(&ctx, target.as_ref(), &name, &grants, Some(e)));
    }
    let text = grants
        .iter()
        .map(|(t, p)| format!("{t}.{}", p.word()))
        .collect::<Vec<_>>()
        .join(" ");
    let holders: Vec<i32> = match &target {
        Some(r) => user_role::Entity::find()
            .filter(user_role::Column::RoleId.eq(r.id))
            .all(ctx.db.conn())
            .await
            .map(|links| links.into_iter().map(|l| l.user_id).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let who = ctx.who();
    let saved = ctx
        .db
        .transaction(async |tx| {
            let (action, saved) = match &target {
                Some(r) => {
                    let mut am: role::ActiveModel = r.clone().into();
                    am.name = Set(name.clone());
                    am.permissions = Set(text);
                    ("change", am.update(&**tx).await?)
                }
                None => (
                    "create",
                    role::ActiveModel {
                        name: Set(name.clone()),
                        permissions: Set(text),
                        ..Default::default()
                    }
                    .insert(&**tx)
                    .await?,
                ),
            };
            if target.as_ref() != Some(&saved) {
                staff_log::role_event(&**tx, &who, target.as_ref(), Some(&saved), action).await?;
            }
            Ok::<_, phial_orm::OrmError>(())
        })
        .await;
    if let Err(e) = saved {
        return db_err(&ctx, e);
    }
    // The role's holders have other rights now: their sockets reconnect
    // with them (their requests see them at once).
    if let Ok(accounts) = phial_auth::Accounts::<crate::Staff>::of(&ctx.app) {
        for id in holders {
            accounts.user_changed(&id.to_string());
        }
    }
    ctx.redirect(
        &ctx.reg.url("access/roles/"),
        "success",
        &format!("Saved role {name}."),
    )
}

/// `POST /admin/access/roles/new`
pub(crate) async fn new_role(ctx: Ctx, body: Bytes) -> Response {
    if let Some(r) = superuser_only(&ctx) {
        return r;
    }
    save_role(ctx, None, body).await
}

/// `POST /admin/access/roles/{id}`
pub(crate) async fn role_save(
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Response> {
    if let Some(r) = superuser_only(&ctx) {
        return Err(r);
    }
    let r = find_role(&ctx, &id).await?;
    Ok(save_role(ctx, Some(r), body).await)
}
