//! The one decision: [`Policies::decide`] answers, for a caller, a model
//! and an action, whether they may, which rows, and which fields are
//! hidden from them. Every surface asks it — REST, the admin (on top of
//! its own rule that staff see a model there only with its view grant),
//! Socket.IO rooms and feeds, the app's pages — and none keeps a shortcut.

use std::collections::HashMap;
use std::sync::LazyLock;

use sea_orm::Condition;

use super::{Action, Caller, CallerKind, Policy};

/// The answer for one caller, model and action.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Whether the action is allowed at all.
    pub allowed: bool,
    /// The rows it may touch: for reads, the rows that exist for the
    /// caller; for writes, what the row must satisfy before (change,
    /// delete) and after (create, change). `None`: every row.
    pub rows: Option<Condition>,
    /// Fields hidden from the caller.
    pub hidden: Vec<String>,
    /// Why not, when not: for messages (`you may not change post rows`).
    pub reason: Option<String>,
}

impl Policy {
    /// The decision of [`Policies::decide`] for this policy (a REST
    /// resource with a policy of its own asks it directly).
    pub fn decide(&self, caller: &Caller, table: &str, action: Action) -> Decision {
        let allowed = if caller.has_every_grant() {
            true
        } else if caller.needs_grants() {
            match self.staff_rule(action) {
                Some(rule) => rule.allows(caller),
                None if action.writes() => caller.granted(table, action),
                None => caller.granted(table, action) || self.allows(action, caller),
            }
        } else {
            self.allows(action, caller)
        };
        let rows = if action.writes() {
            self.write_filter(caller)
        } else {
            self.row_filter(caller)
        };
        Decision {
            allowed,
            rows,
            hidden: self.hidden_from(caller),
            reason: (!allowed).then(|| match caller.kind() {
                CallerKind::Anonymous => {
                    format!("sign in: anonymous callers may not {action} `{table}` rows")
                }
                CallerKind::User => format!("you may not {action} `{table}` rows"),
                CallerKind::Staff | CallerKind::Token => {
                    format!(
                        "you may not {action} `{table}` rows: it needs the `{table}.{}` grant",
                        grant_word(action)
                    )
                }
            }),
        }
    }
}

/// The admin's permission word for an action (`view` for reads).
fn grant_word(action: Action) -> &'static str {
    match action {
        Action::List | Action::Read => "view",
        Action::Create => "add",
        Action::Change => "change",
        Action::Delete => "delete",
    }
}

/// Each model's policy, declared once on the [`Orm`](crate::Orm)
/// extension (`Orm::new().policy::<post::Entity>(p)`) and asked through
/// [`decide`](Self::decide) by whatever reaches the model. In the app's
/// state.
///
/// ```
/// use phial_orm::policy::{Action, Caller, Policies, Policy, Rule};
/// let policies = Policies::default().with("post", Policy::new().list(Rule::authenticated()));
/// assert!(!policies.decide(&Caller::anonymous(), "post", Action::List).allowed);
/// // A model nobody declared: anyone reads, nobody but grants writes.
/// assert!(policies.decide(&Caller::anonymous(), "comment", Action::List).allowed);
/// assert!(!policies.decide(&Caller::user("7"), "comment", Action::Create).allowed);
/// ```
#[derive(Clone, Default, Debug)]
pub struct Policies(HashMap<String, Policy>);

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
        static DEFAULT: LazyLock<Policy> = LazyLock::new(Policy::new);
        self.0.get(table).unwrap_or(&DEFAULT)
    }

    /// Whether `caller` may do `action` on `table`'s rows, which rows, and
    /// which fields they do not see:
    /// - superusers (every grant) may do everything;
    /// - staff and tokens: the policy's rule for them when it names one,
    ///   else their grant — and for reads, the rule end users get too;
    /// - the app's users and anonymous callers: the policy's rule;
    /// - then the policy's row filter (for writes, its write filter) and
    ///   hidden fields for the caller.
    pub fn decide(&self, caller: &Caller, table: &str, action: Action) -> Decision {
        self.get(table).decide(caller, table, action)
    }

    /// Every declared table.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// What each kind of caller may do with `table`, for people
    /// (`check --deploy`): the decision asked for a caller of each kind.
    pub fn describe(&self, table: &str) -> Vec<(CallerKind, Vec<Action>, bool)> {
        let probes = [
            (CallerKind::Anonymous, Caller::anonymous()),
            (CallerKind::User, Caller::user("1")),
            (CallerKind::Staff, Caller::staff("probe")),
            (CallerKind::Token, Caller::token("probe")),
        ];
        probes
            .into_iter()
            .map(|(kind, caller)| {
                let allowed: Vec<Action> = Action::ALL
                    .into_iter()
                    .filter(|a| self.decide(&caller, table, *a).allowed)
                    .collect();
                let narrowed = Action::ALL
                    .into_iter()
                    .any(|a| self.decide(&caller, table, a).rows.is_some());
                (kind, allowed, narrowed)
            })
            .collect()
    }
}
