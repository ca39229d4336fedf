//! `check --deploy`: production hazards, as Django's `check --deploy`.
//! Core settings are checked here; extensions add their own checks with
//! [`AppBuilder::deploy_check`](crate::AppBuilder::deploy_check). Errors
//! give a non-zero exit code; warnings do not.

use std::process::ExitCode;
use std::sync::Arc;

use crate::app::App;
use crate::cli::Output;
use crate::state::AppState;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeployLevel {
    /// Must be fixed before deploying: `check --deploy` exits non-zero.
    Error,
    /// Worth a look.
    Warning,
    /// What the app does, for the record (each model's access rules):
    /// printed, never a failure.
    Info,
}

/// One production hazard: the config key at fault and what to do.
#[derive(Debug, Clone)]
pub struct DeployFinding {
    /// Error or warning.
    pub level: DeployLevel,
    /// The config key (or variable) at fault.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl DeployFinding {
    /// A finding that fails the check.
    pub fn error(key: impl Into<String>, message: impl Into<String>) -> Self {
        DeployFinding {
            level: DeployLevel::Error,
            key: key.into(),
            message: message.into(),
        }
    }

    /// A finding that is reported but does not fail the check.
    pub fn warning(key: impl Into<String>, message: impl Into<String>) -> Self {
        DeployFinding {
            level: DeployLevel::Warning,
            key: key.into(),
            message: message.into(),
        }
    }

    /// A line for the record (what the app allows), not a hazard.
    pub fn info(key: impl Into<String>, message: impl Into<String>) -> Self {
        DeployFinding {
            level: DeployLevel::Info,
            key: key.into(),
            message: message.into(),
        }
    }
}

type CheckFn = Arc<dyn Fn(&AppState) -> Vec<DeployFinding> + Send + Sync>;

/// Checks contributed by extensions, kept in the app state.
#[derive(Clone, Default)]
pub(crate) struct DeployChecks(pub(crate) Vec<(String, CheckFn)>);

impl DeployChecks {
    pub(crate) fn push(&mut self, source: String, check: CheckFn) {
        self.0.push((source, check));
    }
}

fn core_hazards(state: &AppState) -> Vec<DeployFinding> {
    let core = state.core();
    let mut found = Vec::new();
    if !state.profile().is_production() {
        found.push(DeployFinding::error(
            "PHIAL_ENV",
            format!(
                "the profile is `{}`: deploy with PHIAL_ENV=production",
                state.profile()
            ),
        ));
    }
    if let Some(problem) = core.secret_key_problem() {
        found.push(DeployFinding::error(
            "secret_key",
            format!("{problem}: set PHIAL_SECRET_KEY to the output of the `secret` command"),
        ));
    }
    if let Some((i, problem)) = core.fallback_key_problem() {
        found.push(DeployFinding::error(
            format!("secret_key_fallbacks[{i}]"),
            format!("{problem}: an old key still signs sessions; make it as strong as the key or drop it"),
        ));
    }
    if exposed_development(state, &core.server.bind) {
        found.push(DeployFinding::error(
            "server.bind",
            format!(
                "`{}` listens beyond this machine with the development profile or key: \
                 anyone who can reach it can forge sessions",
                core.server.bind
            ),
        ));
    }
    if core.debug {
        found.push(DeployFinding::error(
            "debug",
            "debug is on: error pages show internals; set debug = false",
        ));
    }
    if !core.session.secure {
        found.push(DeployFinding::warning(
            "session.secure",
            "the session cookie is sent over plain HTTP; set session.secure = true behind HTTPS",
        ));
    }
    let cors = crate::cors::Cors::from_config(core.cors.clone());
    if cors.wildcard_with_credentials() {
        found.push(DeployFinding::warning(
            "cors.origins",
            "`*` is listed with cors.credentials = true: any site may read the public \
             answers, and only the origins listed by name get credentials (cookies); list \
             the origins that serve your pages and drop `*` unless the API is public",
        ));
    }
    if state.profile().is_production() && core.server.trusted_proxies.is_empty() {
        found.push(DeployFinding::warning(
            "server.trusted_proxies",
            "is empty: if a proxy (nginx, a load balancer) is in front, every client has its \
             address, so one client's failed sign-ins and rate limits hold back everyone; \
             list the proxy's address (`127.0.0.1/32`, its network) so the address it \
             forwards is believed",
        ));
    }
    if !core.csrf.enabled {
        found.push(DeployFinding::warning(
            "csrf.enabled",
            "CSRF protection is off",
        ));
    }
    if !core.security.enabled {
        found.push(DeployFinding::warning(
            "security.enabled",
            "security headers are off",
        ));
    } else if !core.security.hsts {
        found.push(DeployFinding::warning(
            "security.hsts",
            "HSTS is off: browsers may reach the site over plain HTTP",
        ));
    }
    if core.templates.auto_reload {
        found.push(DeployFinding::warning(
            "templates.auto_reload",
            "templates are re-checked on every render; turn auto_reload off",
        ));
    }
    let metrics = &core.metrics;
    if metrics.enabled && !metrics.token_set() && !metrics.bind_set() {
        found.push(DeployFinding::warning(
            "metrics.token",
            format!(
                "{} is off in production until it is protected: set metrics.token \
                 (PHIAL_METRICS__TOKEN) for scrapes with a bearer token, or metrics.bind \
                 to serve it on a port of its own; metrics.enabled = false to go without",
                metrics.path
            ),
        ));
    }
    if metrics.bind_set()
        && !is_loopback(metrics.bind.as_deref().unwrap_or(""))
        && !metrics.token_set()
    {
        found.push(DeployFinding::warning(
            "metrics.bind",
            "the metrics port listens beyond this machine without a token: keep it off the \
             load balancer, or set metrics.token too",
        ));
    }
    if core.body_limit > 64 * 1024 * 1024 {
        found.push(DeployFinding::warning(
            "body_limit",
            format!(
                "{} bytes per request body is a lot; lower it unless uploads need it",
                core.body_limit
            ),
        ));
    }
    found
}

/// Whether the app would listen on `bind` beyond loopback while using the
/// development profile or the public development key.
pub(crate) fn exposed_development(state: &AppState, bind: &str) -> bool {
    let development = state.profile() == crate::Profile::Development
        || state.core().effective_secret_key() == crate::config::DEVELOPMENT_SECRET_KEY;
    development && !is_loopback(bind)
}

/// Whether an address (`host:port`, or an IP) is loopback only.
pub(crate) fn is_loopback(bind: &str) -> bool {
    if let Ok(addr) = bind.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    if let Ok(ip) = bind.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
    host.eq_ignore_ascii_case("localhost")
}

/// Every finding: the core's, then each extension's (keys prefixed with its name).
pub(crate) fn findings(state: &AppState) -> Vec<DeployFinding> {
    let mut found = core_hazards(state);
    if let Some(checks) = state.get::<DeployChecks>() {
        for (source, check) in &checks.0 {
            found.extend(check(state).into_iter().map(|mut f| {
                f.key = format!("{source}: {}", f.key);
                f
            }));
        }
    }
    found.sort_by_key(|f| f.level);
    found
}

pub(crate) fn run(app: &App, deploy: bool, out: &Output) -> ExitCode {
    if !deploy {
        out.println(format!(
            "ok: the app builds ({} routes, extensions: {})",
            app.state().routes().len(),
            app.state().extensions().join(", ")
        ));
        return ExitCode::SUCCESS;
    }
    let found = findings(app.state());
    let errors = found
        .iter()
        .filter(|f| f.level == DeployLevel::Error)
        .count();
    for f in &found {
        let tag = match f.level {
            DeployLevel::Error => "ERROR  ",
            DeployLevel::Warning => "WARNING",
            DeployLevel::Info => "INFO   ",
        };
        out.println(format!("{tag} {}: {}", f.key, f.message));
    }
    let warnings = found
        .iter()
        .filter(|f| f.level == DeployLevel::Warning)
        .count();
    out.println(format!("{errors} error(s), {warnings} warning(s)"));
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
