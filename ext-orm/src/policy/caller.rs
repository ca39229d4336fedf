//! Who is asking, as a model's policy sees them: anonymous, one of the
//! app's users, a staff user with the grants of their roles (a superuser
//! holds every grant), or a token with its scopes.

use super::Action;

/// What kind of caller (see [`Caller`]). Staff users and tokens write
/// only what they were granted; the app's users and anonymous callers
/// what the model's policy allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    /// Nobody in particular.
    #[default]
    Anonymous,
    /// One of the app's users (`phial::auth`'s realm `user`).
    User,
    /// A staff user of the admin, with grants (a superuser: all of them).
    Staff,
    /// A bearer token, with its scopes as grants.
    Token,
}

/// Who is asking: their kind, id, roles and grants, however they were
/// recognised (a session, a bearer token).
///
/// ```
/// use phial_orm::policy::{Action, Caller, CallerKind};
/// let editor = Caller::staff("eve").with_grant("post", Action::Change);
/// assert_eq!(editor.kind(), CallerKind::Staff);
/// assert!(editor.granted("post", Action::Change));
/// let token = Caller::token("importer").with_grant("*", Action::Create);
/// assert!(token.granted("post", Action::Create) && !token.granted("post", Action::Delete));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    kind: CallerKind,
    id: Option<String>,
    roles: Vec<String>,
    grants: Vec<(String, Action)>,
    every_grant: bool,
}

impl Caller {
    /// Nobody in particular.
    pub fn anonymous() -> Self {
        Caller::default()
    }

    /// One of the app's users, by id.
    pub fn user(id: impl Into<String>) -> Self {
        Caller {
            kind: CallerKind::User,
            id: Some(id.into()),
            ..Caller::default()
        }
    }

    /// A staff user, by name; their roles' grants are added with
    /// [`with_grant`](Self::with_grant).
    pub fn staff(id: impl Into<String>) -> Self {
        Caller {
            kind: CallerKind::Staff,
            id: Some(id.into()),
            ..Caller::default()
        }
    }

    /// A bearer token, by name; its scopes are grants
    /// ([`with_grant`](Self::with_grant), `"*"` for every table).
    pub fn token(name: impl Into<String>) -> Self {
        Caller {
            kind: CallerKind::Token,
            id: Some(name.into()),
            ..Caller::default()
        }
    }

    /// The same caller allowed `action` on `table` (`"*"`: every table) by
    /// an explicit grant: an admin role's permission (Django's
    /// `change_post`), a token's scope.
    pub fn with_grant(mut self, table: impl Into<String>, action: Action) -> Self {
        self.grants.push((table.into(), action));
        self
    }

    /// The same caller granted every action on every table (an admin
    /// superuser).
    pub fn with_every_grant(mut self) -> Self {
        self.every_grant = true;
        self
    }

    /// Whether the caller was granted `action` on `table`.
    pub fn granted(&self, table: &str, action: Action) -> bool {
        self.every_grant
            || self
                .grants
                .iter()
                .any(|(t, a)| (t == table || t == "*") && *a == action)
    }

    /// Whether the caller holds every grant (a superuser).
    pub fn has_every_grant(&self) -> bool {
        self.every_grant
    }

    /// The same caller with one more role.
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// What kind of caller.
    pub fn kind(&self) -> CallerKind {
        self.kind
    }

    /// Whether writes need grants (staff and tokens).
    pub fn needs_grants(&self) -> bool {
        matches!(self.kind, CallerKind::Staff | CallerKind::Token)
    }

    /// The user's id, when recognised.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Whether the caller was recognised.
    pub fn is_authenticated(&self) -> bool {
        self.id.is_some()
    }

    /// Whether the caller has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The caller's roles.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}
