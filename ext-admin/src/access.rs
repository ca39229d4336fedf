//! Who is signed in to the admin and what they may do: a staff user's
//! roles become grants on a [`Caller`], and every page asks the model's
//! policy (declared on `Orm`) with that caller, so their rights mean the
//! same in the admin, the API (`Policy::by_grants`) and socket rooms.

use std::collections::BTreeSet;

use phial_core::Session;
use phial_orm::policy::{Action, Caller, Policies};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::{role, user, user_role};

/// Session key of the signed-in admin user's id.
pub(crate) const SESSION_USER: &str = "_admin_user";
/// Session key of the last request's time (seconds since the epoch).
pub(crate) const SESSION_SEEN: &str = "_admin_seen";
/// Session key of the caller as sign-in found it, for socket connections
/// (which cannot query the database at connect).
pub(crate) const SESSION_CALLER: &str = "_admin_caller";

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
pub fn parse_grants(text: &str) -> Result<BTreeSet<(String, Permission)>, String> {
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

/// A signed-in, active admin user with their roles.
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
    /// The grants their roles hold, `(table, action)`.
    grants: Vec<(String, Action)>,
}

impl Staff {
    /// Loads the active user `id` with their roles; `None` when there is no
    /// such active user.
    pub(crate) async fn load(db: &DatabaseConnection, id: i32) -> Result<Option<Staff>, DbErr> {
        let Some(u) = user::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        if !u.is_active {
            return Ok(None);
        }
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
        let snapshot = CallerSnapshot {
            name: u.username.clone(),
            roles: roles.iter().map(|r| r.name.clone()).collect(),
            grants: grants.clone(),
            all: u.is_superuser,
        };
        Staff {
            id: u.id,
            username: u.username,
            superuser: u.is_superuser,
            roles: snapshot.roles.clone(),
            caller: snapshot.caller(),
            grants,
        }
    }

    /// Whether they may do `p` on `table`: granted by a role (or a
    /// superuser) and allowed by the model's policy.
    pub fn may(&self, policies: &Policies, table: &str, p: Permission) -> bool {
        let policy = policies.get(table);
        p.actions()
            .iter()
            .all(|a| self.caller.granted(table, *a) && policy.allows(*a, &self.caller))
    }
}

/// What a socket connection is told about the caller: the grants sign-in
/// found, kept in the signed session cookie.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct CallerSnapshot {
    name: String,
    roles: Vec<String>,
    grants: Vec<(String, Action)>,
    all: bool,
}

impl CallerSnapshot {
    /// Every grant the user's roles hold, whether or not the panel shows
    /// the table (an API-only model's grant reaches the API too).
    pub(crate) fn of(staff: &Staff) -> Self {
        CallerSnapshot {
            name: staff.username.clone(),
            roles: staff.roles.clone(),
            grants: staff.grants.clone(),
            all: staff.superuser,
        }
    }

    pub(crate) fn caller(self) -> Caller {
        let mut c = Caller::user(self.name);
        for r in self.roles {
            c = c.with_role(r);
        }
        for (t, a) in self.grants {
            c = c.with_grant(t, a);
        }
        if self.all {
            c = c.with_every_grant();
        }
        c
    }
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signs the admin user out of this session (the rest of the session —
/// the site's own sign-in — stays).
pub(crate) fn sign_out(session: &Session) {
    session.remove(SESSION_USER);
    session.remove(SESSION_SEEN);
    session.remove(SESSION_CALLER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_carries_every_grant_of_the_roles() {
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
        let caller = CallerSnapshot::of(&staff).caller();
        for c in [&staff.caller, &caller] {
            assert!(c.granted("ledger", Action::List) && c.granted("ledger", Action::Read));
            assert!(c.granted("post", Action::Delete));
            assert!(!c.granted("post", Action::Change));
            assert!(c.has_role("accounts") && !c.has_every_grant());
        }
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
