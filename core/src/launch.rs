//! How the app being built will be used: served, asked for its routes, or
//! running one CLI command. The CLI parses the command line first and then
//! calls the app factory inside a [`Launch`] scope, so commands that only
//! describe the app (`--help`, `routes`, `config`) build it without any I/O,
//! and extensions know which command they start for (the migrator upgrades
//! on startup for `run` only).

use std::future::Future;

tokio::task_local! {
    static LAUNCH: Launch;
}

/// What an app is built for. Outside the CLI (tests, a custom `main`) there
/// is none: the app is built completely, as for `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    /// Bind the extensions and assemble routes, but run no provider, no
    /// startup hook and no secret check: the app answers `routes`,
    /// `config` and `--help`, not requests.
    pub(crate) describe_only: bool,
    /// The CLI command (`run`, `check`, `db`, ...).
    pub(crate) command: Option<String>,
}

impl Launch {
    /// The launch of the app builder being created on this task, if any.
    pub(crate) fn current() -> Option<Launch> {
        LAUNCH.try_with(Clone::clone).ok()
    }

    /// Runs `fut` (an app factory) with this launch in scope.
    pub(crate) async fn scope<F: Future>(self, fut: F) -> F::Output {
        LAUNCH.scope(self, fut).await
    }
}
