//! The `main` of every app binary: parse the command line first, then build
//! only what the command needs.

use std::ffi::OsString;
use std::future::Future;
use std::process::ExitCode;

use clap::Command;

use super::{Output, bin_name, core_commands, usage};
use crate::app::App;
use crate::config::Config;
use crate::error::Error;
use crate::launch::Launch;

/// The whole `main` of an app binary: load the configuration, parse the
/// command line, call the factory for what the command needs, run the
/// command. Errors are printed on standard error with what to do, and give
/// a non-zero exit code.
///
/// - `secret` prints a new key without loading the configuration or
///   building anything: it is what the production error tells you to run.
/// - `--help`, `routes` and `config` build the app "described": extensions
///   are bound (so their commands, routes and config sections are known)
///   but nothing connects, no migration runs and production does not ask
///   for a secret key.
/// - `run` builds the whole app (and, in development, migrates on startup);
///   `check` and extension commands build the whole app without migrating
///   first.
///
/// The factory may be called twice (once described, once for real), so it
/// is a `Fn`.
///
/// ```no_run
/// # async fn create_app(config: phial_core::Config) -> phial_core::Result<phial_core::App> { unimplemented!() }
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     phial_core::cli::main(create_app).await
/// }
/// ```
pub async fn main<F, Fut>(factory: F) -> ExitCode
where
    F: Fn(Config) -> Fut,
    Fut: Future<Output = Result<App, Error>>,
{
    let args: Vec<OsString> = std::env::args_os().collect();
    if is_secret_command(&args) {
        return secret_only(args, &Output::stdout(), &Output::stderr());
    }
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            Output::stderr().println(format!("error: {e}"));
            return ExitCode::from(2);
        }
    };
    super::init_tracing(config.profile());
    run_with(factory, config, args, Output::stdout(), Output::stderr()).await
}

/// [`main`] with the configuration, arguments (binary name first) and
/// outputs given: for tests and custom binaries.
pub async fn run_with<F, Fut, I, T>(
    factory: F,
    config: Config,
    args: I,
    out: Output,
    err: Output,
) -> ExitCode
where
    F: Fn(Config) -> Fut,
    Fut: Future<Output = Result<App, Error>>,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if is_secret_command(&args) {
        return secret_only(args, &out, &err);
    }
    let described = Launch {
        describe_only: true,
        command: None,
    };
    let app = match described.scope(factory(config.clone())).await {
        Ok(app) => app,
        Err(e) => {
            err.println(format!("error: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let matches = match app
        .cli_command(&bin_name(&args))
        .try_get_matches_from(&args)
    {
        Ok(m) => m,
        Err(e) => return usage(e, &out, &err),
    };
    let command = matches.subcommand_name().unwrap_or("run").to_owned();
    let app = if matches!(command.as_str(), "routes" | "config") {
        app
    } else {
        drop(app);
        let launch = Launch {
            describe_only: false,
            command: Some(command),
        };
        match launch.scope(factory(config)).await {
            Ok(app) => app,
            Err(e) => {
                err.println(format!("error: {e}"));
                return ExitCode::FAILURE;
            }
        }
    };
    match app.dispatch(&matches, &out, &err).await {
        Ok(code) => code,
        Err(e) => {
            err.println(format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn is_secret_command(args: &[OsString]) -> bool {
    args.get(1).is_some_and(|a| a == "secret")
}

/// `secret` (and `secret --help`) with the core commands alone.
fn secret_only(args: Vec<OsString>, out: &Output, err: &Output) -> ExitCode {
    let cmd = Command::new(bin_name(&args)).subcommands(core_commands());
    match cmd.try_get_matches_from(args) {
        Ok(_) => {
            out.println(super::new_secret());
            ExitCode::SUCCESS
        }
        Err(e) => usage(e, out, err),
    }
}
