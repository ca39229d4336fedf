//! Entries for changes to who may do what: staff users created, their
//! flags and roles changed, new passwords, sign-outs everywhere, roles
//! created, changed and deleted, roles given. Written in the same
//! transaction as the change (from the panel, the CLI or code); shown to
//! superusers in the audit log. A password is never logged, only that it
//! changed.

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::{Map, Value as Json, json};

use crate::audit_entries::{self, Entry, Who};
use crate::{role, user};

/// Who made a change outside a request: the CLI (with the system user's
/// name when known) or the app's own code.
impl Who {
    /// The command line.
    pub(crate) fn cli() -> Who {
        let system = std::env::var("USER").unwrap_or_default();
        Who {
            id: None,
            username: if system.is_empty() {
                "cli".to_owned()
            } else {
                format!("cli ({system})")
            },
        }
    }

    /// The app's own code (`phial::admin::create_user` and friends).
    pub(crate) fn code() -> Who {
        Who {
            id: None,
            username: "app code".to_owned(),
        }
    }
}

fn pair(before: Json, after: Json) -> Json {
    json!([before, after])
}

/// Logs a change to staff user `u` (`create`, `change`, `password`,
/// `sign_out_everywhere`, `grant`) with `changes`.
pub(crate) async fn user_event<C: ConnectionTrait>(
    conn: &C,
    who: &Who,
    u: &user::Model,
    action: &str,
    changes: Map<String, Json>,
) -> Result<i64, DbErr> {
    audit_entries::write(
        conn,
        who,
        Entry {
            table: "phial_admin_user".into(),
            key: Json::from(u.id),
            label: u.username.clone(),
            action: action.into(),
            changes,
            ..Entry::default()
        },
    )
    .await
}

/// What changed between two states of a staff user, roles included (by
/// name).
pub(crate) fn user_changes(
    before: Option<(&user::Model, &[String])>,
    after: (&user::Model, &[String]),
) -> Map<String, Json> {
    let mut out = Map::new();
    let (a, a_roles) = after;
    let fields = |u: &user::Model, roles: &[String]| {
        [
            ("username", Json::from(u.username.clone())),
            ("is_superuser", Json::from(u.is_superuser)),
            ("is_active", Json::from(u.is_active)),
            ("roles", Json::from(roles.to_vec())),
        ]
    };
    let after_fields = fields(a, a_roles);
    let before_fields = before.map(|(b, r)| fields(b, r));
    for (i, (name, value)) in after_fields.into_iter().enumerate() {
        let old = before_fields
            .as_ref()
            .map(|f| f[i].1.clone())
            .unwrap_or(Json::Null);
        if old != value {
            out.insert(name.to_owned(), pair(old, value));
        }
    }
    out
}

/// Logs a change to role `r` (`create`, `change`, `delete`) from `before`.
pub(crate) async fn role_event<C: ConnectionTrait>(
    conn: &C,
    who: &Who,
    before: Option<&role::Model>,
    after: Option<&role::Model>,
    action: &str,
) -> Result<i64, DbErr> {
    let Some(r) = after.or(before) else {
        return Ok(0);
    };
    let mut changes = Map::new();
    let name = |m: Option<&role::Model>| m.map_or(Json::Null, |m| Json::from(m.name.clone()));
    let grants =
        |m: Option<&role::Model>| m.map_or(Json::Null, |m| Json::from(m.permissions.clone()));
    for (field, b, a) in [
        ("name", name(before), name(after)),
        ("permissions", grants(before), grants(after)),
    ] {
        if b != a {
            changes.insert(field.to_owned(), pair(b, a));
        }
    }
    audit_entries::write(
        conn,
        who,
        Entry {
            table: "phial_admin_role".into(),
            key: Json::from(r.id),
            label: r.name.clone(),
            action: action.into(),
            changes,
            ..Entry::default()
        },
    )
    .await
}
