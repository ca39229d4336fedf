//! Who is signed in to the admin and what they may do: staff users sign
//! in through `phial::auth` in the realm [`STAFF_REALM`] (their records end
//! on sign-out, a new password, deactivation, "sign out everywhere"); each
//! request loads the user with their roles, whose grants go on a
//! [`Caller`], and every page asks the one decision (`Policies::decide`,
//! the model's policy declared on `Orm`) with that caller, so their rights
//! mean the same in the admin, the API and socket rooms, and a changed
//! role counts at the next request. On top, the admin is a staff surface:
//! a model is there for a staff user only with its `view` grant.

use std::collections::BTreeSet;

use phial_core::{AppState, BoxError};
use phial_orm::Db;
use phial_orm::policy::{Action, Caller, Policies};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::{role, user, user_role};

/// The `phial::auth` realm of the admin's staff users.
pub const STAFF_REALM: &str = "staff";

/// One of Django's four model permissions, as a role grants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// List and read rows.
    View,
    /// Create rows.
    Add,
    /// Change rows (and run bulk actions).
    Change,
    /// Delete rows.
    Delete,
}

impl Permission {
    /// Every permission, in order.
    pub const ALL: [Permission; 4] = [
        Permission::View,
        Permission::Add,
        Permission::Change,
        Permission::Delete,
    ];

    /// The word in a role's `permissions`.
    pub fn word(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Add => "add",
            Permission::Change => "change",
            Permission::Delete => "delete",
        }
    }

    /// The permission a word names.
    pub fn from_word(word: &str) -> Option<Self> {
        Permission::ALL.into_iter().find(|p| p.word() == word)
    }

    /// The policy actions it grants.
    pub fn actions(self) -> &'static [Action] {
        match self {
            Permission::View => &[Action::List, Action::Read],
            Permission::Add => &[Action::Create],
            Permission::Change => &[Action::Change],
            Permission::Delete => &[Action::Delete],
        }
    }
}

/// A role's permissions parsed: `(table, permission)` pairs. Bad words
/// are reported, naming the fix.
pub(crate) fn parse_grants(text: &str) -> Result<BTreeSet<(String, Permission)>, String> {
    let mut out = BTreeSet::new();
    for word in text.split([' ', ',', '\n', '\t']).filter(|w| !w.is_empty()) {
        let parsed = word
            .rsplit_once('.')
            .and_then(|(table, p)| Some((table, Permission::from_word(p)?)))
            .filter(|(table, _)| !table.is_empty());
        match parsed {
            Some((table, p)) => {
                out.insert((table.to_owned(), p));
            }
            None => {
                return Err(format!(
                    "`{word}` is no grant: write `table.permission`, the permission being \
                     view, add, change or delete (`post.change`)"
                ));
            }
        }
    }
    Ok(out)
}

/// An admin user with their roles, as a sign-in loads them.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The user's id.
    pub id: i32,
    /// Their name.
    pub username: String,
    /// Every permission, whatever the roles say.
    pub superuser: bool,
    /// Their roles' names.
    pub roles: Vec<String>,
    /// The same user as policies see them.
    pub caller: Caller,
    /// Whether they may sign in (an inactive user's sign-ins end).
    pub active: bool,
    /// Their scrypt hash (a new one ends their sign-ins).
    password_hash: String,
}

impl phial_auth::AuthUser for Staff {
    fn auth_id(&self) -> String {
        self.id.to_string()
    }
    fn display_name(&self) -> String {
        self.username.clone()
    }
    fn password_hash(&self) -> &str {
        &self.password_hash
    }
    fn is_active(&self) -> bool {
        self.active
    }
    fn caller(&self) -> Caller {
        self.caller.clone()
    }
}

fn db_of(app: &AppState) -> Result<Db, BoxError> {
    Db::from_state(app).ok_or_else(|| "the admin needs the Orm extension".into())
}

/// The staff realm: users loaded by id, found by name, with their roles.
pub(crate) fn realm(prefix: &str, idle_minutes: u64) -> phial_auth::Auth<Staff> {
    phial_auth::Auth::with_loader(|app: AppState, id: String| async move {
        let Ok(id) = id.parse::<i32>() else {
            return Ok(None);
        };
        Ok(Staff::load(db_of(&app)?.conn(), id).await?)
    })
    .finder(|app: AppState, name: String| async move {
        let db = db_of(&app)?;
        let found = user::Entity::find()
            .filter(user::Column::Username.eq(name))
            .one(db.conn())
            .await?;
        match found {
            Some(u) => Ok(Staff::load(db.conn(), u.id).await?),
            None => Ok(None),
        }
    })
    .realm(STAFF_REALM)
    .login_url(format!("{prefix}/login"))
    .idle(std::time::Duration::from_secs(idle_minutes * 60))
    .staff()
}

impl Staff {
    /// Loads the user `id` with their roles (active or not: the sign-in
    /// decides); `None` when there is no such user.
    pub(crate) async fn load(db: &DatabaseConnection, id: i32) -> Result<Option<Staff>, DbErr> {
        let Some(u) = user::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        let role_ids: Vec<i32> = user_role::Entity::find()
            .filter(user_role::Column::UserId.eq(id))
            .all(db)
            .await?
            .into_iter()
            .map(|r| r.role_id)
            .collect();
        let roles = if role_ids.is_empty() {
            Vec::new()
        } else {
            role::Entity::find()
                .filter(role::Column::Id.is_in(role_ids))
                .all(db)
                .await?
        };
        Ok(Some(Staff::new(u, &roles)))
    }

    fn new(u: user::Model, roles: &[role::Model]) -> Staff {
        let mut grants = Vec::new();
        // A role saved through the admin or CLI parses; one edited by hand
        // in the database keeps its good words.
        for r in roles {
            for word in r.permissions.split_whitespace() {
                for (table, p) in parse_grants(word).unwrap_or_default() {
                    grants.extend(p.actions().iter().map(|a| (table.clone(), *a)));
                }
            }
        }
        let role_names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
        let mut caller = Caller::staff(u.username.clone());
        for r in &role_names {
            caller = caller.with_role(r.clone());
        }
        for (t, a) in &grants {
            caller = caller.with_grant(t.clone(), *a);
        }
        if u.is_superuser {
            caller = caller.with_every_grant();
        }
        Staff {
            id: u.id,
            username: u.username,
            superuser: u.is_superuser,
            roles: role_names,
            caller,
            active: u.is_active,
            password_hash: u.password_hash,
        }
    }

    /// Whether they may do `p` on `table` in the admin: they hold the
    /// table's `view` grant (or are a superuser) — a staff user sees a
    /// model in the admin only with it — and the one decision
    /// (`Policies::decide`: the grant, or the policy's rule for staff)
    /// allows every action `p` stands for.
    pub fn may(&self, policies: &Policies, table: &str, p: Permission) -> bool {
        let sees =
            self.caller.granted(table, Action::List) && self.caller.granted(table, Action::Read);
        sees && p
            .actions()
            .iter()
            .all(|a| policies.decide(&self.caller, table, *a).allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staff_caller_carries_every_grant_of_the_roles() {
        let u = user::Model {
            id: 1,
            username: "eve".into(),
            password_hash: String::new(),
            is_superuser: false,
            is_active: true,
            created_at: chrono::Utc::now(),
        };
        let r = role::Model {
            id: 1,
            name: "accounts".into(),
            // `ledger` need not be in the panel: the API enforces it too.
            permissions: "ledger.view post.delete bogus".into(),
        };
        let staff = Staff::new(u, &[r]);
        let c = phial_auth::AuthUser::caller(&staff);
        assert!(c.granted("ledger", Action::List) && c.granted("ledger", Action::Read));
        assert!(c.granted("post", Action::Delete));
        assert!(!c.granted("post", Action::Change));
        assert!(c.has_role("accounts") && !c.has_every_grant());
    }

    #[test]
    fn grants_parse_and_bad_words_are_named() {
        let g = parse_grants("post.view post.change, comment.delete").unwrap();
        assert!(g.contains(&("post".into(), Permission::Change)));
        assert_eq!(g.len(), 3);
        let e = parse_grants("post.view post.publish").unwrap_err();
        assert!(e.contains("`post.publish`"), "{e}");
        assert!(parse_grants(".view").is_err());
    }
}
