//! Who may do what to a model, declared once and enforced wherever the
//! model is reached: REST resources now, the admin and Socket.IO rooms on
//! the same declaration. A [`Policy`] answers for each [`Action`] whether a
//! [`Caller`] may do it, and may narrow the rows a caller sees with a row
//! filter ("only published posts for anonymous readers").
//!
//! ```
//! use phial_orm::policy::{Action, Caller, Policy, Rule};
//! use sea_orm::{ColumnTrait, Condition};
//! # mod post {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "post")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i32,
//! #         pub published: bool,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! let policy = Policy::new() // reads: anyone; writes: signed-in callers
//!     .delete(Rule::role("editor"))
//!     .rows(|caller| {
//!         (!caller.is_authenticated())
//!             .then(|| Condition::all().add(post::Column::Published.eq(true)))
//!     });
//! let anon = Caller::anonymous();
//! let ada = Caller::user("ada");
//! assert!(policy.allows(Action::List, &anon));
//! assert!(!policy.allows(Action::Create, &anon));
//! assert!(policy.allows(Action::Create, &ada));
//! assert!(!policy.allows(Action::Delete, &ada));
//! assert!(policy.allows(Action::Delete, &ada.clone().with_role("editor")));
//! assert!(policy.row_filter(&anon).is_some() && policy.row_filter(&ada).is_none());
//! ```

use std::fmt;
use std::sync::Arc;

use sea_orm::Condition;

/// What a caller wants to do with a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See many rows.
    List,
    /// See one row.
    Read,
    /// Add rows.
    Create,
    /// Change rows.
    Change,
    /// Remove rows.
    Delete,
}

impl Action {
    /// Every action, in order.
    pub const ALL: [Action; 5] = [
        Action::List,
        Action::Read,
        Action::Create,
        Action::Change,
        Action::Delete,
    ];

    /// Whether the action writes.
    pub fn writes(self) -> bool {
        matches!(self, Action::Create | Action::Change | Action::Delete)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::List => "list",
            Action::Read => "read",
            Action::Create => "create",
            Action::Change => "change",
            Action::Delete => "delete",
        })
    }
}

/// Who is asking: anonymous, or a user (by id) with roles, however they
/// were recognised (a session, a bearer token).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
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

    /// A recognised user.
    pub fn user(id: impl Into<String>) -> Self {
        Caller {
            id: Some(id.into()),
            ..Caller::default()
        }
    }

    /// The same caller allowed `action` on `table` by an explicit grant
    /// (an admin role's permission: Django's `change_post`). Rules test
    /// grants with [`Rule::granted`]; the admin requires them.
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
        self.every_grant || self.grants.iter().any(|(t, a)| t == table && *a == action)
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

/// Whether a caller may do one action.
#[derive(Clone)]
pub struct Rule(Arc<dyn Fn(&Caller) -> bool + Send + Sync>);

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rule(..)")
    }
}

impl Rule {
    /// Everyone, signed in or not.
    pub fn anyone() -> Self {
        Rule::when(|_| true)
    }

    /// Nobody (the action is switched off for clients).
    pub fn nobody() -> Self {
        Rule::when(|_| false)
    }

    /// Any recognised caller.
    pub fn authenticated() -> Self {
        Rule::when(Caller::is_authenticated)
    }

    /// Recognised callers with `role`.
    pub fn role(role: impl Into<String>) -> Self {
        let role = role.into();
        Rule::when(move |c| c.has_role(&role))
    }

    /// Callers granted `action` on `table` ([`Caller::with_grant`]: an
    /// admin role's permission), so a staff user's rights mean the same in
    /// the admin, the API and socket rooms.
    ///
    /// ```
    /// use phial_orm::policy::{Action, Caller, Policy, Rule};
    /// let policy = Policy::new().delete(Rule::granted("post", Action::Delete));
    /// let editor = Caller::user("ada").with_grant("post", Action::Delete);
    /// assert!(policy.allows(Action::Delete, &editor));
    /// assert!(!policy.allows(Action::Delete, &Caller::user("bob")));
    /// ```
    pub fn granted(table: impl Into<String>, action: Action) -> Self {
        let table = table.into();
        Rule::when(move |c| c.granted(&table, action))
    }

    /// Your own test.
    pub fn when(f: impl Fn(&Caller) -> bool + Send + Sync + 'static) -> Self {
        Rule(Arc::new(f))
    }

    /// Whether `caller` passes.
    pub fn allows(&self, caller: &Caller) -> bool {
        (self.0)(caller)
    }
}

type RowFilter = Arc<dyn Fn(&Caller) -> Option<Condition> + Send + Sync>;

/// Access to one model (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Policy {
    rules: [Rule; 5],
    rows: Option<RowFilter>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("row_filter", &self.rows.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new()
    }
}

impl Policy {
    /// Reads for anyone, writes for recognised callers, every row visible.
    pub fn new() -> Self {
        Policy {
            rules: [
                Rule::anyone(),
                Rule::anyone(),
                Rule::authenticated(),
                Rule::authenticated(),
                Rule::authenticated(),
            ],
            rows: None,
        }
    }

    /// Everything for everyone (a public, writable model: use with care).
    pub fn open() -> Self {
        Policy {
            rules: std::array::from_fn(|_| Rule::anyone()),
            rows: None,
        }
    }

    /// Nothing for anyone until allowed action by action.
    pub fn closed() -> Self {
        Policy {
            rules: std::array::from_fn(|_| Rule::nobody()),
            rows: None,
        }
    }

    /// Sets the rule for one action.
    pub fn allow(mut self, action: Action, rule: Rule) -> Self {
        self.rules[action.index()] = rule;
        self
    }

    /// Who may list rows.
    pub fn list(self, rule: Rule) -> Self {
        self.allow(Action::List, rule)
    }

    /// Who may read one row.
    pub fn read(self, rule: Rule) -> Self {
        self.allow(Action::Read, rule)
    }

    /// Who may list and read.
    pub fn reads(self, rule: Rule) -> Self {
        self.list(rule.clone()).read(rule)
    }

    /// Who may create rows.
    pub fn create(self, rule: Rule) -> Self {
        self.allow(Action::Create, rule)
    }

    /// Who may change rows.
    pub fn change(self, rule: Rule) -> Self {
        self.allow(Action::Change, rule)
    }

    /// Who may delete rows.
    pub fn delete(self, rule: Rule) -> Self {
        self.allow(Action::Delete, rule)
    }

    /// Every action needs its grant on `table` ([`Rule::granted`]): what
    /// a staff user's admin roles allow, they may do through the API and
    /// socket rooms too, and nothing else (DRF's `DjangoModelPermissions`).
    pub fn by_grants(table: &str) -> Self {
        Policy {
            rules: Action::ALL.map(|a| Rule::granted(table, a)),
            rows: None,
        }
    }

    /// Who may create, change and delete.
    pub fn writes(self, rule: Rule) -> Self {
        self.create(rule.clone()).change(rule.clone()).delete(rule)
    }

    /// Narrows the rows a caller may see, change or delete: `None` for
    /// every row. Rows outside it do not exist for that caller (a 404).
    pub fn rows(
        mut self,
        f: impl Fn(&Caller) -> Option<Condition> + Send + Sync + 'static,
    ) -> Self {
        self.rows = Some(Arc::new(f));
        self
    }

    /// Whether `caller` may do `action`.
    pub fn allows(&self, action: Action, caller: &Caller) -> bool {
        self.rules[action.index()].allows(caller)
    }

    /// The rows `caller` may reach, when narrowed.
    pub fn row_filter(&self, caller: &Caller) -> Option<Condition> {
        self.rows.as_ref().and_then(|f| f(caller))
    }
}

/// Each model's policy, declared once on the [`Orm`](crate::Orm)
/// extension (`Orm::new().policy::<post::Entity>(p)`) and read by whatever
/// reaches the model: REST resources without a policy of their own, the
/// admin, Socket.IO rooms. In the app's state.
///
/// ```
/// use phial_orm::policy::{Action, Caller, Policies, Policy, Rule};
/// let policies = Policies::default().with("post", Policy::new().list(Rule::authenticated()));
/// assert!(!policies.get("post").allows(Action::List, &Caller::anonymous()));
/// // A model nobody declared gets the default policy.
/// assert!(policies.get("comment").allows(Action::List, &Caller::anonymous()));
/// ```
#[derive(Clone, Default, Debug)]
pub struct Policies(std::collections::HashMap<String, Policy>);

impl Policies {
    /// `table`'s policy is `policy`.
    pub fn with(mut self, table: impl Into<String>, policy: Policy) -> Self {
        self.0.insert(table.into(), policy);
        self
    }

    /// The policy declared for `table`, if any.
    pub fn declared(&self, table: &str) -> Option<&Policy> {
        self.0.get(table)
    }

    /// The policy for `table`: the declared one, else [`Policy::new`].
    pub fn get(&self, table: &str) -> &Policy {
        static DEFAULT: std::sync::LazyLock<Policy> = std::sync::LazyLock::new(Policy::new);
        self.0.get(table).unwrap_or(&DEFAULT)
    }
}
