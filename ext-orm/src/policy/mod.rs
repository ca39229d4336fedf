//! Who may do what to a model, declared once and enforced wherever the
//! model is reached — REST resources, the admin, Socket.IO rooms and
//! feeds, the app's own pages — through one decision,
//! [`Policies::decide`]: given a [`Caller`], a model and an [`Action`],
//! whether they may, which rows (a row filter for reads, another for
//! writes: the row as it is *after* a write must satisfy it) and which
//! fields are hidden from them.
//!
//! A [`Policy`] says what the app's users and anonymous callers may do
//! (rule by rule) and fails closed for writes: by default anyone reads,
//! nobody writes. Staff users and tokens write only what they were granted
//! (an admin role's `post.change`, a token's scope), whatever the rules
//! say of end users, unless the policy names a rule for them too;
//! superusers may do everything.
//!
//! ```
//! use phial_orm::policy::{Action, Caller, Policies, Policy, Rule};
//! use sea_orm::{ColumnTrait, Condition};
//! # mod post {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "post")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i32,
//! #         pub author_id: i32,
//! #         pub published: bool,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! // Anyone reads published posts; authors write their own.
//! let policy = Policy::new()
//!     .writes(Rule::when(|c| c.kind() == phial_orm::policy::CallerKind::User))
//!     .rows(|c| (!c.is_authenticated()).then(|| Condition::all().add(post::Column::Published.eq(true))))
//!     .write_rows(|c| match (c.kind(), c.id()) {
//!         (phial_orm::policy::CallerKind::User, Some(id)) => {
//!             Some(Condition::all().add(post::Column::AuthorId.eq(id.parse::<i32>().unwrap_or(0))))
//!         }
//!         _ => None,
//!     });
//! let policies = Policies::default().with("post", policy);
//! let anon = policies.decide(&Caller::anonymous(), "post", Action::Change);
//! assert!(!anon.allowed);
//! let ada = policies.decide(&Caller::user("7"), "post", Action::Change);
//! assert!(ada.allowed && ada.rows.is_some());
//! // Staff write by grant only.
//! let eve = Caller::staff("eve");
//! assert!(!policies.decide(&eve, "post", Action::Change).allowed);
//! let eve = eve.with_grant("post", Action::Change);
//! assert!(policies.decide(&eve, "post", Action::Change).allowed);
//! ```

mod access;
mod caller;
mod decide;

use std::fmt;
use std::sync::Arc;

use sea_orm::Condition;

pub use access::Access;
pub use caller::{Caller, CallerKind};
pub use decide::{Decision, Policies};

/// What a caller wants to do with a model. The admin's four permissions
/// map onto them: view (list, read: also export, watch, history), add
/// (create; reverting a delete), change (update, bulk edits; reverting a
/// change), delete (delete, bulk delete; reverting a create).
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

    /// Nobody (among the callers the rule is for).
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
    /// admin role's permission, a token's scope).
    ///
    /// ```
    /// use phial_orm::policy::{Action, Caller, Rule};
    /// let rule = Rule::granted("post", Action::Delete);
    /// assert!(rule.allows(&Caller::staff("ada").with_grant("post", Action::Delete)));
    /// assert!(!rule.allows(&Caller::user("bob")));
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
type Hidden = (Vec<String>, Arc<dyn Fn(&Caller) -> bool + Send + Sync>);

/// Access to one model (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Policy {
    /// For anonymous callers and the app's users.
    rules: [Rule; 5],
    /// For staff and tokens, when the app names one (else their grant).
    staff: [Option<Rule>; 5],
    rows: Option<RowFilter>,
    write_rows: Option<RowFilter>,
    hidden: Vec<Hidden>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("row_filter", &self.rows.is_some())
            .field("write_row_filter", &self.write_rows.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new()
    }
}

impl Policy {
    /// Reads for anyone, writes for nobody but staff and tokens with the
    /// grant (and superusers); every row visible.
    pub fn new() -> Self {
        Policy {
            rules: [
                Rule::anyone(),
                Rule::anyone(),
                Rule::nobody(),
                Rule::nobody(),
                Rule::nobody(),
            ],
            staff: Default::default(),
            rows: None,
            write_rows: None,
            hidden: Vec::new(),
        }
    }

    /// Everything for everyone, anonymous callers included (a public,
    /// writable model: use with care; `check --deploy` warns).
    pub fn open() -> Self {
        Policy {
            rules: std::array::from_fn(|_| Rule::anyone()),
            ..Policy::new()
        }
    }

    /// Nothing for anonymous callers and the app's users until allowed
    /// action by action; staff and tokens by grant, reads included.
    pub fn closed() -> Self {
        Policy {
            rules: std::array::from_fn(|_| Rule::nobody()),
            ..Policy::new()
        }
    }

    /// Every action by grant only (Django REST framework's
    /// `DjangoModelPermissions`): [`Policy::closed`].
    pub fn by_grants(_table: &str) -> Self {
        Policy::closed()
    }

    /// Sets the rule for one action, for anonymous callers and the app's
    /// users.
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

    /// Who may create, change and delete.
    pub fn writes(self, rule: Rule) -> Self {
        self.create(rule.clone()).change(rule.clone()).delete(rule)
    }

    /// A rule for staff users and tokens for one action, instead of their
    /// grant (a moderator role that deletes comments without an admin
    /// role's grant, a read-only token).
    pub fn staff(mut self, action: Action, rule: Rule) -> Self {
        self.staff[action.index()] = Some(rule);
        self
    }

    /// Narrows the rows a caller may see (list, read, watch, export):
    /// `None` for every row. Rows outside it do not exist for that caller
    /// (a 404). Writes use it too unless [`write_rows`](Self::write_rows)
    /// says otherwise.
    pub fn rows(
        mut self,
        f: impl Fn(&Caller) -> Option<Condition> + Send + Sync + 'static,
    ) -> Self {
        self.rows = Some(Arc::new(f));
        self
    }

    /// Narrows the rows a caller may write: the row before a change or
    /// delete, and the row as it is after a create, change or restore,
    /// must satisfy it (checked in the write's transaction, by the
    /// database: a condition may look at other tables, "its post is
    /// published"). A caller who can see the row but not put it there
    /// gets a 403.
    pub fn write_rows(
        mut self,
        f: impl Fn(&Caller) -> Option<Condition> + Send + Sync + 'static,
    ) -> Self {
        self.write_rows = Some(Arc::new(f));
        self
    }

    /// Hides `fields` from the callers `when` picks: left out of what
    /// they read, refused in their filters and sorts (authors' emails from
    /// anonymous readers).
    pub fn hide<I, S>(
        mut self,
        fields: I,
        when: impl Fn(&Caller) -> bool + Send + Sync + 'static,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hidden
            .push((fields.into_iter().map(Into::into).collect(), Arc::new(when)));
        self
    }

    /// Whether the rule for anonymous callers and the app's users lets
    /// `caller` do `action` (the decision adds grants: see
    /// [`Policies::decide`]).
    pub fn allows(&self, action: Action, caller: &Caller) -> bool {
        self.rules[action.index()].allows(caller)
    }

    /// The staff rule for `action`, when the policy names one.
    pub(crate) fn staff_rule(&self, action: Action) -> Option<&Rule> {
        self.staff[action.index()].as_ref()
    }

    /// The rows `caller` may see, when narrowed.
    pub fn row_filter(&self, caller: &Caller) -> Option<Condition> {
        self.rows.as_ref().and_then(|f| f(caller))
    }

    /// The rows `caller` may write, when narrowed.
    pub fn write_filter(&self, caller: &Caller) -> Option<Condition> {
        match &self.write_rows {
            Some(f) => f(caller),
            None => self.row_filter(caller),
        }
    }

    /// The fields hidden from `caller`.
    pub fn hidden_from(&self, caller: &Caller) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (fields, when) in &self.hidden {
            if when(caller) {
                out.extend(fields.iter().cloned());
            }
        }
        out
    }
}
