//! Serving over a real socket with graceful shutdown, and the CLI.

use std::process::ExitCode;
use std::sync::Arc;

use phial_core::cli::Output;
use phial_core::routing::get;
use phial_core::{App, AppBuilder, BoxError, Config, Dep, Profile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, oneshot};

struct Gate {
    started: Notify,
    release: Notify,
}

/// Serves `app` on a free loopback port until the sender fires.
async fn serve(
    app: App,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), phial_core::Error>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_with(listener, async move {
        let _ = stop_rx.await;
    }));
    (addr, stop_tx, server)
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_then_runs_hooks() {
    let gate = Arc::new(Gate {
        started: Notify::new(),
        release: Notify::new(),
    });
    let (hook_tx, hook_rx) = oneshot::channel();
    let app = App::builder(Config::testing())
        .insert_arc(gate.clone())
        .route(
            "/slow",
            get(|gate: Dep<Gate>| async move {
                gate.started.notify_one();
                gate.release.notified().await;
                "finished"
            }),
        )
        .on_shutdown(move |_s| async move {
            let _ = hook_tx.send(());
            Ok(())
        })
        .build()
        .await
        .unwrap();
    let (addr, stop_tx, server) = serve(app).await;

    let client = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    });
    gate.started.notified().await;
    stop_tx.send(()).unwrap();
    gate.release.notify_one();
    let response = client.await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("finished"), "{response}");
    server.await.unwrap().unwrap();
    hook_rx.await.expect("the shutdown hook ran");
}

/// One request on a kept-alive connection: the response's head (lower
/// case) and body, read by its `content-length`.
async fn exchange(s: &mut tokio::net::TcpStream, path: &str) -> (String, String) {
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).await.unwrap(), 1, "the head ended early");
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    (head, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_shutdown_drains_first_readiness_fails_and_every_answer_closes_its_connection() {
    let (drain_tx, mut drain_rx) = oneshot::channel();
    let app = App::builder(Config::testing().set("server.drain_secs", 2))
        .route("/hello", get(|| async { "hello" }))
        .on_drain(move |_s| async move {
            let _ = drain_tx.send(());
            Ok(())
        })
        .build()
        .await
        .unwrap();
    let (addr, stop_tx, server) = serve(app).await;

    // Before: a kept-alive connection, ready, no `connection: close`.
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (head, body) = exchange(&mut kept, "/hello").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    assert_eq!(body, "hello");
    let mut probe = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(&mut probe, "/readyz").await;
    assert!(head.starts_with("http/1.1 200"), "ready before: {head}");

    stop_tx.send(()).unwrap();
    // The drain hooks run as the shutdown begins, not after the window.
    (&mut drain_rx).await.expect("the drain hook ran");
    // Still accepting: readiness says 503, on a new connection.
    let mut fresh = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (head, body) = exchange(&mut fresh, "/readyz").await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(body.contains("draining"), "{body}");
    assert!(head.contains("connection: close"), "{head}");
    // The kept-alive connection is served once more, told to close, and
    // closed by the server after the answer.
    let (head, body) = exchange(&mut kept, "/hello").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body, "hello");
    let mut rest = Vec::new();
    kept.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing after the last answer");
    server.await.unwrap().unwrap();
    // After the window the listener is gone.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn serve_reports_an_address_in_use_with_the_fix() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let app = App::builder(Config::testing()).build().await.unwrap();
    let err = app.serve(&addr).await.unwrap_err();
    assert!(err.to_string().contains("--bind"), "{err}");
}

fn db_ext(app: &mut AppBuilder) -> Result<(), BoxError> {
    app.command(
        clap::Command::new("greet").arg(clap::Arg::new("who").required(true)),
        |ctx| async move {
            let who: &String = ctx.matches.get_one("who").unwrap();
            if who == "nobody" {
                return Err("nobody to greet".into());
            }
            ctx.println(format!("hello {who}"));
            Ok(())
        },
    );
    app.route("/ext", get(|| async { "" }).name("ext"));
    app.deploy_check(|state| {
        if state.config().contains("db.sqlite") {
            vec![phial_core::DeployFinding::error(
                "db.sqlite",
                "SQLite on several nodes loses data",
            )]
        } else {
            vec![]
        }
    });
    Ok(())
}

/// What one CLI run did: exit code, standard output, standard error, and
/// which commands the app's startup work ran for (its provider records the
/// launch).
struct Ran {
    code: ExitCode,
    out: String,
    err: String,
    started_for: Vec<String>,
}

/// Runs the CLI as a binary's `main` does (`cli::run_with`): parse first,
/// then build what the command needs.
async fn run(config: Config, args: &[&str]) -> Ran {
    let started = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = started.clone();
    let factory = move |config: Config| {
        let seen = seen.clone();
        async move {
            let mut b = App::builder(config);
            let launched = b.launch_command().unwrap_or("-").to_owned();
            Ok(b.register(db_ext)
                .route("/", get(|| async { "" }).name("index"))
                .provide(move |_p| async move {
                    seen.lock().unwrap().push(launched);
                    Ok(StartedMarker)
                })
                .build()
                .await?)
        }
    };
    let (out, out_buf) = Output::buffer();
    let (err, err_buf) = Output::buffer();
    let mut argv = vec!["myapp"];
    argv.extend_from_slice(args);
    let code = phial_core::cli::run_with(factory, config, argv, out, err).await;
    let text =
        |b: &Arc<std::sync::Mutex<Vec<u8>>>| String::from_utf8(b.lock().unwrap().clone()).unwrap();
    let started_for = started.lock().unwrap().clone();
    Ran {
        code,
        out: text(&out_buf),
        err: text(&err_buf),
        started_for,
    }
}

struct StartedMarker;

async fn cli(config: Config, args: &[&str]) -> (ExitCode, String) {
    let ran = run(config, args).await;
    (ran.code, format!("{}{}", ran.out, ran.err))
}

#[tokio::test]
async fn help_secret_routes_and_config_build_nothing_even_in_production_without_a_secret() {
    let prod = Config::for_profile(Profile::Production);
    for args in [
        &["--help"][..],
        &["secret"],
        &["routes"],
        &["config"],
        &["greet", "--help"],
    ] {
        let ran = run(prod.clone(), args).await;
        assert_eq!(
            ran.code,
            ExitCode::SUCCESS,
            "{args:?}: {}{}",
            ran.out,
            ran.err
        );
        assert!(
            ran.started_for.is_empty(),
            "{args:?} started the app: {:?}",
            ran.started_for
        );
        assert!(ran.err.is_empty(), "{args:?}: {}", ran.err);
    }
    let help = run(prod.clone(), &["--help"]).await.out;
    assert!(
        help.contains("greet") && help.contains("routes"),
        "extension commands are listed: {help}"
    );
    // Commands that need the app build it whole, and say what is missing.
    let ran = run(prod, &["check"]).await;
    assert_eq!(ran.code, ExitCode::FAILURE);
    assert!(ran.err.contains("PHIAL_SECRET_KEY"), "{}", ran.err);
}

#[tokio::test]
async fn only_the_command_that_needs_the_app_starts_it_and_extensions_know_which() {
    let ran = run(Config::testing(), &["greet", "world"]).await;
    assert_eq!(ran.started_for, ["greet"]);
    let ran = run(Config::testing(), &["check"]).await;
    assert_eq!(ran.started_for, ["check"]);
    // Outside the CLI there is no launch command (treated like `run`).
    let mut b = App::builder(Config::testing());
    assert_eq!(b.launch_command(), None);
    assert!(!b.describe_only());
    b.build().await.unwrap();
}

#[tokio::test]
async fn routes_lists_methods_paths_names_and_sources() {
    let (code, text) = cli(Config::testing(), &["routes"]).await;
    assert_eq!(code, ExitCode::SUCCESS);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("METHODS"), "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with("GET")
            && l.contains(" /ext ")
            && l.contains("ext")
            && l.trim_end().ends_with("serve_and_cli::db_ext")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/healthz") && l.trim_end().ends_with("core")),
        "{text}"
    );
}

#[tokio::test]
async fn config_prints_the_effective_values_with_secrets_redacted() {
    let config = Config::testing()
        .set("secret_key", "super-secret-value")
        .set("database.url", "postgres://app:hunter2@db/app");
    let (code, text) = cli(config, &["config"]).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(
        !text.contains("super-secret-value") && !text.contains("hunter2"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["secret_key"], "***");
    assert_eq!(v["database"]["url"], "postgres://app:***@db/app");
    assert_eq!(v["env"], "testing");
}

#[tokio::test]
async fn check_deploy_fails_on_hazards_and_passes_a_sound_production_config() {
    let (code, text) = cli(Config::testing(), &["check", "--deploy"]).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        text.contains("ERROR   PHIAL_ENV") && text.contains("ERROR   secret_key"),
        "{text}"
    );

    let prod = Config::for_profile(Profile::Production).set("secret_key", "k".repeat(48));
    let (code, text) = cli(prod, &["check", "--deploy"]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(text.contains("0 error(s)"), "{text}");

    let risky = Config::for_profile(Profile::Production)
        .set("secret_key", "k".repeat(48))
        .set("debug", true)
        .set("csrf.enabled", false);
    let (code, text) = cli(risky, &["check", "--deploy"]).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        text.contains("ERROR   debug") && text.contains("WARNING csrf.enabled"),
        "{text}"
    );

    let prod_sqlite = Config::for_profile(Profile::Production)
        .set("secret_key", "k".repeat(48))
        .set("db.sqlite", true);
    let (code, text) = cli(prod_sqlite, &["check", "--deploy"]).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        text.contains("ERROR   serve_and_cli::db_ext: db.sqlite: SQLite on several nodes"),
        "{text}"
    );

    let (code, text) = cli(Config::testing(), &["check"]).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(text.starts_with("ok: the app builds"), "{text}");
}

#[tokio::test]
async fn extension_commands_run_and_report_failures() {
    let (code, text) = cli(Config::testing(), &["greet", "world"]).await;
    assert_eq!((code, text.trim()), (ExitCode::SUCCESS, "hello world"));
    let (code, text) = cli(Config::testing(), &["greet", "nobody"]).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(text.contains("nobody to greet"), "{text}");
}

#[tokio::test]
async fn usage_errors_exit_2_on_stderr_with_help_and_secret_makes_keys() {
    let ran = run(Config::testing(), &["frobnicate"]).await;
    assert_eq!(ran.code, ExitCode::from(2));
    assert!(ran.out.is_empty(), "usage errors go to stderr: {}", ran.out);
    assert!(
        ran.err.contains("unrecognized subcommand 'frobnicate'"),
        "{}",
        ran.err
    );
    let (code, text) = cli(Config::testing(), &["greet"]).await;
    assert_eq!(code, ExitCode::from(2));
    assert!(text.contains("<who>"), "{text}");
    let (_, a) = cli(Config::testing(), &["secret"]).await;
    let (_, b) = cli(Config::testing(), &["secret"]).await;
    assert_eq!(a.trim().len(), 64);
    assert!(a.trim().chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[tokio::test]
async fn production_refuses_to_start_without_a_real_secret() {
    for (key, why) in [
        (None, "is not set"),
        (
            Some(phial_core::config::DEVELOPMENT_SECRET_KEY),
            "development default",
        ),
        (Some("short"), "shorter than 32"),
    ] {
        let mut config = Config::for_profile(Profile::Production);
        if let Some(k) = key {
            config = config.set("secret_key", k);
        }
        let err = App::builder(config).build().await.unwrap_err().to_string();
        assert!(
            err.contains("secret_key") && err.contains(why) && err.contains("openssl rand -hex 32"),
            "{err}"
        );
    }
}
