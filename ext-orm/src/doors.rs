//! Where each model can be reached: every REST resource, admin model and
//! socket feed registers a [`Door`] here while the app is built, so what
//! asks the one decision can be listed — `check --deploy` prints each
//! model's doors beside its rules, and a permission matrix test walks
//! every door of every model with every kind of caller (a model added to
//! the app is covered by adding it).
//!
//! ```
//! use phial_orm::doors::{Door, DoorKind, Doors};
//! let doors = Doors::default();
//! doors.push(Door {
//!     table: "post".into(),
//!     kind: DoorKind::Feed { namespace: "/live".into(), grants: false },
//!     meta: None,
//!     policy: None,
//!     list: None,
//! });
//! assert_eq!(doors.all()[0].table, "post");
//! ```

use std::sync::{Arc, Mutex};

use phial_core::{AppBuilder, AppState};

use crate::meta::ModelMeta;
use crate::policy::{Action, Caller, Decision, Policies, Policy};

/// One way to reach a model's rows.
#[derive(Debug, Clone)]
pub struct Door {
    /// The model's table.
    pub table: String,
    /// How.
    pub kind: DoorKind,
    /// The model as this door shows it (hidden and read-only fields), when
    /// it serves rows.
    pub meta: Option<ModelMeta>,
    /// The door's own policy, when it has one instead of the app's
    /// (`Resource::policy`).
    pub policy: Option<Policy>,
    /// The columns its list sorts, filters and searches by, when it has a
    /// list (checked against the database's indexes at startup).
    pub list: Option<crate::query::indexes::ListColumns>,
}

/// What kind of door, and its address.
#[derive(Debug, Clone)]
pub enum DoorKind {
    /// A REST resource.
    Rest {
        /// `/api/posts`
        collection: String,
        /// The actions it serves: list and read, create (and bulk create),
        /// change, delete.
        actions: Vec<Action>,
        /// Whether `POST {collection}/bulk` is served.
        bulk: bool,
    },
    /// A model in the admin (a staff surface: staff see it with its view
    /// grant).
    Admin {
        /// `/admin/post/`
        url: String,
        /// The actions the view switches on.
        actions: Vec<Action>,
        /// Whether the list exports as CSV.
        export: bool,
        /// Bulk actions: name and the action each needs.
        bulk: Vec<(String, Action)>,
    },
    /// A Socket.IO feed: `watch` with the table's name in `namespace`.
    Feed {
        /// `/live`
        namespace: String,
        /// Whether watching also needs the caller's grant to list the
        /// table (the admin's feed).
        grants: bool,
    },
}

impl Door {
    /// The one decision for this door: its own policy when it has one,
    /// else the app's.
    pub fn decide(&self, policies: &Policies, caller: &Caller, action: Action) -> Decision {
        match &self.policy {
            Some(p) => p.decide(caller, &self.table, action),
            None => policies.decide(caller, &self.table, action),
        }
    }

    /// Where it is, for people: `/api/posts`, `/admin/post/`, `feed /live`.
    pub fn address(&self) -> String {
        match &self.kind {
            DoorKind::Rest { collection, .. } => collection.clone(),
            DoorKind::Admin { url, .. } => url.clone(),
            DoorKind::Feed { namespace, .. } => format!("socket feed {namespace}"),
        }
    }
}

/// Every door of the app, in its state (see the module docs). Cheap to
/// clone; filled while the app is built.
#[derive(Debug, Clone, Default)]
pub struct Doors(Arc<Mutex<Vec<Door>>>);

impl Doors {
    /// Registers `door` in the app being built (extensions call this from
    /// `init_app` or `finish`).
    pub fn add(app: &mut AppBuilder, door: Door) {
        if app.get::<Doors>().is_none() {
            app.insert(Doors::default());
        }
        if let Some(doors) = app.get::<Doors>() {
            doors.push(door);
        }
    }

    /// Adds `door`.
    pub fn push(&self, door: Door) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(door);
    }

    /// Every door, in registration order.
    pub fn all(&self) -> Vec<Door> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The doors of a built app.
    pub fn of(app: &AppState) -> Vec<Door> {
        app.get::<Doors>().map(Doors::all).unwrap_or_default()
    }
}
