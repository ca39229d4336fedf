//! Startup and shutdown hooks, each bounded in time.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::error::{BoxError, BuildError};
use crate::state::AppState;

type HookFn = Box<dyn FnOnce(AppState) -> BoxFuture<'static, Result<(), BoxError>> + Send>;

pub(crate) struct StartupHook {
    pub(crate) source: String,
    pub(crate) run: HookFn,
}

pub(crate) struct ShutdownHook {
    pub(crate) source: String,
    pub(crate) run: HookFn,
}

/// What runs when the app stops: drain hooks as soon as shutdown begins,
/// shutdown hooks once requests are done.
#[derive(Default)]
pub(crate) struct StopHooks {
    pub(crate) drain: Vec<ShutdownHook>,
    pub(crate) shutdown: Vec<ShutdownHook>,
}

/// Runs startup hooks in order; a failure or a timeout is a build error.
pub(crate) async fn run_startup(
    hooks: Vec<StartupHook>,
    state: &AppState,
    limit: Duration,
) -> Vec<BuildError> {
    let mut errors = Vec::new();
    for hook in hooks {
        match tokio::time::timeout(limit, (hook.run)(state.clone())).await {
            Ok(Ok(())) => {}
            Ok(Err(source)) => errors.push(BuildError::Extension {
                extension: hook.source,
                phase: "startup",
                source,
            }),
            Err(_) => errors.push(BuildError::StartupTimeout {
                extension: hook.source,
                phase: "startup hook",
                seconds: limit.as_secs(),
            }),
        }
    }
    errors
}

/// Runs shutdown hooks in reverse order. Failures and timeouts are logged,
/// and the next hook still runs: shutdown always completes.
pub(crate) async fn run_shutdown(
    hooks: Vec<ShutdownHook>,
    state: &AppState,
    limit: Duration,
) -> Vec<String> {
    let mut problems = Vec::new();
    for hook in hooks.into_iter().rev() {
        let problem = match tokio::time::timeout(limit, (hook.run)(state.clone())).await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => format!("extension `{}`: shutdown hook failed: {e}", hook.source),
            Err(_) => format!(
                "extension `{}`: shutdown hook did not finish within {}s",
                hook.source,
                limit.as_secs()
            ),
        };
        tracing::warn!("{problem}");
        problems.push(problem);
    }
    problems
}
