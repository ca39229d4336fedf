//! The `hello` binary: its commands, configuration layers and refusals.

use std::process::Command;

fn hello(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hello"));
    cmd.args(args)
        .env_remove("PHIAL_ENV")
        .env_remove("PHIAL_CONFIG")
        .env_remove("PHIAL_SECRET_KEY");
    // Run where no phial.toml is lying around.
    cmd.current_dir(std::env::temp_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the hello binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn routes_lists_the_app() {
    let (code, out, _) = hello(&["routes"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l.starts_with("GET, POST")
            && l.contains("/guestbook")
            && l.contains("guestbook")),
        "{out}"
    );
}

#[test]
fn config_layers_file_then_environment_and_redacts() {
    let dir = tempfile_dir();
    let file = dir.join("phial.toml");
    std::fs::write(
        &file,
        "[session]\ncookie_name = \"from_file\"\nmax_age_secs = 60\n",
    )
    .unwrap();
    let (code, out, err) = hello(
        &["config"],
        &[
            ("PHIAL_CONFIG", file.to_str().unwrap()),
            ("PHIAL_SESSION__MAX_AGE_SECS", "120"),
            ("PHIAL_SECRET_KEY", "a-secret-that-must-not-be-printed"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["session"]["cookie_name"], "from_file");
    assert_eq!(
        v["session"]["max_age_secs"], 120,
        "the environment wins over the file"
    );
    assert_eq!(v["secret_key"], "***");
    assert!(!out.contains("must-not-be-printed"));
    assert_eq!(v["env"], "development");
}

#[test]
fn production_without_a_secret_refuses_to_start_and_says_how_to_fix_it() {
    // The command the error names works without a secret...
    let (code, key, err) = hello(&["secret"], &[("PHIAL_ENV", "production")]);
    assert_eq!((code, key.trim().len()), (0, 64), "{err}");
    // ...and so do the commands that only describe the app.
    let (code, out, err) = hello(&["--help"], &[("PHIAL_ENV", "production")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("routes") && out.contains("secret"), "{out}");
    let (code, _, err) = hello(&["check"], &[("PHIAL_ENV", "production")]);
    assert_eq!(code, 1);
    assert!(
        err.contains("secret_key")
            && err.contains("PHIAL_SECRET_KEY")
            && err.contains("openssl rand -hex 32"),
        "{err}"
    );
}

#[test]
fn bad_profile_and_missing_config_file_are_clear_errors() {
    let (code, _, err) = hello(&["routes"], &[("PHIAL_ENV", "staging")]);
    assert_eq!(code, 2);
    assert!(err.contains("PHIAL_ENV is `staging`"), "{err}");
    let (code, _, err) = hello(&["routes"], &[("PHIAL_CONFIG", "/nonexistent/phial.toml")]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = hello(&["routes"], &[("PHIAL_BODY_LIMIT", "lots")]);
    assert_eq!(code, 1);
    assert!(err.contains("body_limit"), "{err}");
}

#[test]
fn check_deploy_passes_for_a_sound_production_setup() {
    let (code, out, err) = hello(
        &["check", "--deploy"],
        &[
            ("PHIAL_ENV", "production"),
            ("PHIAL_SECRET_KEY", &"z".repeat(64)),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 error(s)"), "{out}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hello-cli-{}-{}",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hello"))
        .args(["run", "--bind", "127.0.0.1:0"])
        .env_remove("PHIAL_ENV")
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hello starts");
    // The server logs the address it bound.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server logs before exiting")
            .unwrap();
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // A watchdog turns a server that ignores SIGTERM into a failure, not a hang.
    let pid = child.id().to_string();
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    let kill_pid = pid.clone();
    std::thread::spawn(move || {
        if watchdog
            .recv_timeout(std::time::Duration::from_secs(30))
            .is_err()
        {
            let _ = Command::new("kill").args(["-KILL", &kill_pid]).status();
        }
    });
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    // Drain the log so the child never blocks on a full pipe, then reap it.
    for _ in lines {}
    let exit = child.wait().unwrap();
    let _ = done.send(());
    assert!(exit.success(), "exit status after SIGTERM: {exit}");
}
