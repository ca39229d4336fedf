//! The command line every app binary gets: `run`, `routes`, `config`,
//! `check [--deploy]`, `secret`, plus what extensions add.
//!
//! ```no_run
//! # async fn create_app(config: phial_core::Config) -> phial_core::Result<phial_core::App> { unimplemented!() }
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     phial_core::cli::main(create_app).await
//! }
//! ```

use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{Arg, ArgAction, ArgMatches, Command};
use futures_util::future::BoxFuture;

use crate::app::App;
use crate::config::Config;
use crate::error::{BoxError, Error};

type RunFn = Arc<dyn Fn(CommandContext) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// A subcommand contributed by an extension or the app.
#[derive(Clone)]
pub(crate) struct CliCommand {
    pub(crate) command: Command,
    pub(crate) source: String,
    pub(crate) run: RunFn,
}

/// Where commands print; tests capture it.
#[derive(Clone)]
pub struct Output(Arc<Mutex<Box<dyn Write + Send>>>);

impl Output {
    /// Printing to standard output.
    pub fn stdout() -> Self {
        Output(Arc::new(Mutex::new(Box::new(std::io::stdout()))))
    }

    /// Printing into a buffer the caller keeps (tests).
    pub fn buffer() -> (Self, Arc<Mutex<Vec<u8>>>) {
        #[derive(Clone)]
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Arc::new(Mutex::new(Vec::new()));
        (
            Output(Arc::new(Mutex::new(Box::new(Shared(buf.clone()))))),
            buf,
        )
    }

    /// Prints one line.
    pub fn println(&self, line: impl std::fmt::Display) {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    }
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

fn core_commands() -> Vec<Command> {
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

    /// Parses `args` (including the binary name) and runs the command,
    /// printing to `out`. Usage errors print clap's message and exit 2.
    pub async fn run_cli<I, T>(self, args: I, out: Output) -> Result<ExitCode, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let bin = args
            .first()
            .and_then(|a| std::path::Path::new(a).file_name())
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app".into());
        let matches = match self.cli_command(&bin).try_get_matches_from(args) {
            Ok(m) => m,
            Err(e) => {
                out.println(e.render().to_string().trim_end());
                let code = if e.use_stderr() { 2 } else { 0 };
                return Ok(ExitCode::from(code));
            }
        };
        match matches.subcommand() {
            None => self.cmd_run(None).await,
            Some(("run", m)) => self.cmd_run(m.get_one::<String>("bind").cloned()).await,
            Some(("routes", _)) => Ok(self.cmd_routes(&out)),
            Some(("config", _)) => Ok(self.cmd_config(&out)),
            Some(("check", m)) => Ok(crate::deploy_check::run(&self, m.get_flag("deploy"), &out)),
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
                        out.println(format!("error: {name} ({}): {e}", cmd.source));
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
        match self.state().config().redacted() {
            Ok(v) => {
                out.println(serde_json::to_string_pretty(&v).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(e) => {
                out.println(format!("error: {e}"));
                ExitCode::FAILURE
            }
        }
    }
}

/// A new random secret: 32 bytes as 64 hex digits.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Installs a tracing subscriber on standard error (filtered by `RUST_LOG`), once.
///
/// Without `RUST_LOG`, development also logs each request (the
/// `phial::request` span and its "finished" event at DEBUG), as Flask's
/// development server does; other profiles log at `info`.
pub fn init_tracing(profile: crate::Profile) {
    let default = match profile {
        crate::Profile::Development => "info,phial::request=debug",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The whole `main` of an app binary: load the configuration, call the
/// factory, run the command from the process arguments. Errors are printed
/// with what to do, and give a non-zero exit code.
pub async fn main<F, Fut>(factory: F) -> ExitCode
where
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = Result<App, Error>>,
{
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(config.profile());
    // Extensions may act differently when the binary runs a command other
    // than the server (the migrator does not upgrade before `db …`).
    let command = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "run".into());
    let config = config.set("cli.command", command);
    let app = match factory(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_cli(std::env::args_os(), Output::stdout()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
