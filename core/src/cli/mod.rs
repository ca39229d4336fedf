//! The command line every app binary gets: `run`, `routes`, `config`,
//! `check [--deploy]`, `secret`, plus what extensions add.
//!
//! The command line is parsed before the app is built, and only what the
//! command needs is built: `secret` needs nothing (not even a valid
//! configuration), `--help`, `routes` and `config` bind the extensions
//! without connecting to anything, and only `run` applies migrations on
//! startup.
//!
//! ```no_run
//! # async fn create_app(config: phial_core::Config) -> phial_core::Result<phial_core::App> { unimplemented!() }
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     phial_core::cli::main(create_app).await
//! }
//! ```

mod main;
mod output;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, ArgAction, ArgMatches, Command};
use futures_util::future::BoxFuture;

use crate::app::App;
use crate::error::{BoxError, Error};

pub use main::{main, run_with};
pub use output::Output;

type RunFn = Arc<dyn Fn(CommandContext) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// A subcommand contributed by an extension or the app.
#[derive(Clone)]
pub(crate) struct CliCommand {
    pub(crate) command: Command,
    pub(crate) source: String,
    pub(crate) run: RunFn,
}

/// What a command handler gets: the app, its parsed arguments, the output.
pub struct CommandContext {
    /// The built app.
    pub app: App,
    /// The subcommand's own arguments.
    pub matches: ArgMatches,
    /// Where to print.
    pub out: Output,
}

impl CommandContext {
    /// Prints one line to the command's output.
    pub fn println(&self, line: impl std::fmt::Display) {
        self.out.println(line);
    }
}

pub(crate) fn core_commands() -> Vec<Command> {
    vec![
        Command::new("run")
            .about("Serve the app (the default command)")
            .arg(
                Arg::new("bind")
                    .long("bind")
                    .value_name("ADDR")
                    .help("Address to listen on [config: server.bind, default 127.0.0.1:5000]"),
            ),
        Command::new("routes")
            .about("List every route: methods, path, endpoint name, who added it"),
        Command::new("config").about("Print the effective configuration, secrets redacted"),
        Command::new("check")
            .about("Check the app builds; with --deploy, also warn about production hazards")
            .arg(
                Arg::new("deploy")
                    .long("deploy")
                    .action(ArgAction::SetTrue)
                    .help("Check settings for a production deployment"),
            ),
        Command::new("secret").about("Print a new random secret key for PHIAL_SECRET_KEY"),
    ]
}

impl App {
    /// The clap command of this app: core commands plus contributed ones.
    pub fn cli_command(&self, bin: &str) -> Command {
        let mut cmd = Command::new(bin.to_owned())
            .about("A Phial app. Without a command, `run`.")
            .subcommands(core_commands());
        for c in self.commands() {
            cmd = cmd.subcommand(c.command.clone());
        }
        cmd
    }

    /// Parses `args` (including the binary name) and runs the command on
    /// this (already built) app, printing to `out`. Usage errors print
    /// clap's message on standard error and give exit code 2. Binaries use
    /// [`main`], which parses first and builds only what the command needs.
    pub async fn run_cli<I, T>(self, args: I, out: Output) -> Result<ExitCode, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        self.run_cli_to(args, out, Output::stderr()).await
    }

    /// Like [`run_cli`](Self::run_cli), with usage errors printed to `err`.
    pub async fn run_cli_to<I, T>(
        self,
        args: I,
        out: Output,
        err: Output,
    ) -> Result<ExitCode, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let matches = match self
            .cli_command(&bin_name(&args))
            .try_get_matches_from(args)
        {
            Ok(m) => m,
            Err(e) => return Ok(usage(e, &out, &err)),
        };
        self.dispatch(&matches, &out, &err).await
    }

    /// Runs the parsed command on this app; failures are printed to `err`.
    pub(crate) async fn dispatch(
        self,
        matches: &ArgMatches,
        out: &Output,
        err: &Output,
    ) -> Result<ExitCode, Error> {
        match matches.subcommand() {
            None => self.cmd_run(None).await,
            Some(("run", m)) => self.cmd_run(m.get_one::<String>("bind").cloned()).await,
            Some(("routes", _)) => Ok(self.cmd_routes(out)),
            Some(("config", _)) => Ok(self.cmd_config(out)),
            Some(("check", m)) => Ok(crate::deploy_check::run(&self, m.get_flag("deploy"), out)),
            Some(("secret", _)) => {
                out.println(new_secret());
                Ok(ExitCode::SUCCESS)
            }
            Some((name, m)) => {
                let Some(cmd) = self
                    .commands()
                    .iter()
                    .find(|c| c.command.get_name() == name)
                    .cloned()
                else {
                    err.println(format!(
                        "error: no command `{name}` in the built app (an extension added it only \
                         while the app was described: add commands unconditionally in `init_app`)"
                    ));
                    return Ok(ExitCode::from(2));
                };
                let ctx = CommandContext {
                    app: self.clone(),
                    matches: m.clone(),
                    out: out.clone(),
                };
                let result = (cmd.run)(ctx).await;
                self.shutdown().await;
                match result {
                    Ok(()) => Ok(ExitCode::SUCCESS),
                    Err(e) => {
                        err.println(format!("error: {name} ({}): {e}", cmd.source));
                        Ok(ExitCode::FAILURE)
                    }
                }
            }
        }
    }

    async fn cmd_run(self, bind: Option<String>) -> Result<ExitCode, Error> {
        let addr = bind.unwrap_or_else(|| self.state().core().server.bind.clone());
        self.serve(&addr).await?;
        Ok(ExitCode::SUCCESS)
    }

    fn cmd_routes(&self, out: &Output) -> ExitCode {
        let routes = self.state().routes();
        let mut rows: Vec<[String; 4]> = vec![[
            "METHODS".into(),
            "PATH".into(),
            "ENDPOINT".into(),
            "SOURCE".into(),
        ]];
        let mut sorted: Vec<_> = routes.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        for r in sorted {
            rows.push([
                r.methods_label(),
                r.path.clone(),
                r.name.clone().unwrap_or_else(|| "-".into()),
                r.source.clone(),
            ]);
        }
        let widths: Vec<usize> = (0..4)
            .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
            .collect();
        for r in rows {
            out.println(format!(
                "{:w0$}  {:w1$}  {:w2$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            ));
        }
        ExitCode::SUCCESS
    }

    fn cmd_config(&self, out: &Output) -> ExitCode {
        let effective = &self.state().0.effective_config;
        out.println(serde_json::to_string_pretty(effective).unwrap_or_default());
        ExitCode::SUCCESS
    }
}

/// A new random secret: 32 bytes as 64 hex digits.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    hex::encode(b)
}

/// How log lines are written: text for a terminal, JSON objects (one per
/// line) for a log shipper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `[request id] 2026-12-03T… INFO target: message`.
    Text,
    /// `{"request_id":…,"timestamp":…,"level":"INFO","fields":{"message":…},"target":…}`.
    Json,
}

impl LogFormat {
    /// `PHIAL_LOG_FORMAT` (`json` or `text`), else JSON in production and
    /// text otherwise. The second value is an unknown `PHIAL_LOG_FORMAT`,
    /// to warn about once logging is up.
    pub fn from_env(profile: crate::Profile) -> (LogFormat, Option<String>) {
        let set = std::env::var("PHIAL_LOG_FORMAT").ok();
        let default = if profile.is_production() {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
        match set.as_deref().map(str::trim) {
            None | Some("") => (default, None),
            Some(f) if f.eq_ignore_ascii_case("json") => (LogFormat::Json, None),
            Some(f) if f.eq_ignore_ascii_case("text") => (LogFormat::Text, None),
            Some(f) => (default, Some(f.to_owned())),
        }
    }
}

/// The subscriber [`init_tracing`] installs, writing to `writer`: tests
/// run it on a buffer to see the lines production writes.
///
/// ```
/// use phial_core::cli::{LogFormat, log_subscriber};
/// let sub = log_subscriber(LogFormat::Json, "info", std::io::sink);
/// tracing::subscriber::with_default(sub, || tracing::info!("to the sink"));
/// ```
pub fn log_subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::new(filter);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        // The span list would repeat the current span.
        LogFormat::Json => {
            let inner = tracing_subscriber::fmt::format()
                .json()
                .with_current_span(true)
                .with_span_list(false);
            Box::new(
                builder
                    .json()
                    .event_format(crate::log_context::WithRequestId { inner, json: true })
                    .finish(),
            )
        }
        LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let inner = tracing_subscriber::fmt::format().with_ansi(ansi);
            Box::new(
                builder
                    .with_ansi(ansi)
                    .event_format(crate::log_context::WithRequestId { inner, json: false })
                    .finish(),
            )
        }
    }
}

/// Installs a tracing subscriber on standard error (filtered by `RUST_LOG`), once.
///
/// Without `RUST_LOG`, development also logs each request (the
/// `phial::request` span's "finished" event at DEBUG), as Flask's
/// development server does; other profiles log at `info`. Production
/// writes one JSON object per line (for a log shipper), other profiles
/// text; `PHIAL_LOG_FORMAT=json` or `text` picks either (see
/// [`LogFormat::from_env`]). Every line logged while a request runs
/// carries its request id.
pub fn init_tracing(profile: crate::Profile) {
    let default = match profile {
        // PostgreSQL's notices ("relation already exists, skipping") are
        // noise on every command.
        crate::Profile::Development => "info,phial::request=debug,sqlx::postgres::notice=warn",
        _ => "info,sqlx::postgres::notice=warn",
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    let (format, unknown) = LogFormat::from_env(profile);
    let installed = tracing_subscriber::util::SubscriberInitExt::try_init(log_subscriber(
        format,
        &filter,
        std::io::stderr,
    ));
    if let (Ok(()), Some(unknown)) = (installed, unknown) {
        tracing::warn!("PHIAL_LOG_FORMAT is `{unknown}`: use `json` or `text`");
    }
}

/// The binary's name for usage lines: the file name of the first argument.
pub(crate) fn bin_name(args: &[OsString]) -> String {
    args.first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".into())
}

/// Prints a clap outcome that is not a command: help and version on
/// standard output (exit 0), usage errors on standard error (exit 2).
pub(crate) fn usage(e: clap::Error, out: &Output, err: &Output) -> ExitCode {
    let text = e.render().to_string();
    if e.use_stderr() {
        err.println(text.trim_end());
        ExitCode::from(2)
    } else {
        out.println(text.trim_end());
        ExitCode::SUCCESS
    }
}
