//! What happened during a run, in ms since it began: every acknowledged
//! write, every read with the version it returned, every failed request,
//! the faults' windows, the comments and what each socket watcher got.

use std::collections::HashMap;

/// Where a request went: straight to a node, or through nginx in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Node,
    Front,
}

/// One read of a post's version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Read {
    pub(crate) post: i64,
    pub(crate) began: f64,
    pub(crate) ended: f64,
    pub(crate) version: u64,
    /// The cached HTML index, or the API.
    pub(crate) page: bool,
    /// The node that answered (1-based; 0: through nginx).
    pub(crate) node: usize,
}

/// A failed request: 5xx, or no answer (status 0).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure {
    pub(crate) at: f64,
    pub(crate) what: &'static str,
    pub(crate) status: u16,
    pub(crate) via: Via,
}

/// A comment posted through the post page's form and acknowledged (the
/// 303 came back).
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub(crate) name: String,
    pub(crate) sent: f64,
    pub(crate) acked: f64,
}

/// One socket watcher's life: when it was in the post's room, what
/// arrived, and how long each reconnection took.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watcher {
    /// (joined, left; `None` while still in the room at the end)
    pub(crate) joined: Vec<(f64, Option<f64>)>,
    /// (comment author name, arrived at), in arrival order (duplicates kept)
    pub(crate) received: Vec<(String, f64)>,
    /// (lost at, back in the room after ms)
    pub(crate) reconnects: Vec<(f64, f64)>,
}

#[derive(Default)]
pub(crate) struct History {
    /// post → (version, acknowledged at)
    pub(crate) acks: HashMap<i64, Vec<(u64, f64)>>,
    pub(crate) reads: Vec<Read>,
    pub(crate) failures: Vec<Failure>,
    pub(crate) refused: usize,
    pub(crate) ryw_violations: Vec<String>,
    /// (kind, began, ended)
    pub(crate) faults: Vec<(String, f64, f64)>,
    pub(crate) comments: Vec<Comment>,
    pub(crate) watchers: Vec<Watcher>,
}
