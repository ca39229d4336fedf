//! The `blog` binary's command line: commands that only describe the app
//! touch nothing, and a bad value in any extension's section is named by
//! its key.

use std::path::Path;
use std::process::Command;

fn blog(args: &[&str], instance: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blog"));
    cmd.args(args).current_dir(std::env::temp_dir());
    for (key, _) in std::env::vars() {
        if key.starts_with("PHIAL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PHIAL_INSTANCE_PATH", instance);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the blog binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn describing_commands_create_no_database_and_apply_no_migration() {
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("instance");
    for args in [&["--help"][..], &["routes"], &["config"], &["secret"]] {
        let (code, out, err) = blog(args, &instance, &[]);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert!(
            !instance.exists(),
            "{args:?} created {}",
            instance.display()
        );
    }
    let (_, help, _) = blog(&["--help"], &instance, &[]);
    assert!(help.contains("db"), "extension commands are listed: {help}");
    // `db status` connects (creating the SQLite file) but applies nothing.
    let (code, out, err) = blog(&["db", "status"], &instance, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(instance.join("app.sqlite").is_file());
    assert!(out.contains("pending"), "nothing was applied first: {out}");
}

#[test]
fn a_bad_value_in_any_extension_section_names_its_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("instance");
    for (var, key) in [
        (
            "PHIAL_DATABASE__MAX_CONNECTIONS",
            "database.max_connections",
        ),
        (
            "PHIAL_MIGRATE__LOCK_TIMEOUT_SECS",
            "migrate.lock_timeout_secs",
        ),
        ("PHIAL_CACHE__DEFAULT_TTL_SECS", "cache.default_ttl_secs"),
        ("PHIAL_BODY_LIMIT", "body_limit"),
    ] {
        let (code, out, err) = blog(&["routes"], &instance, &[(var, "lots")]);
        assert_eq!(code, 1, "{var}: {out}{err}");
        assert!(
            err.contains(&format!("config key `{key}`: invalid type")),
            "{var}: {err}"
        );
    }
}

#[test]
fn config_shows_every_section_with_its_defaults_and_nothing_internal() {
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("instance");
    let (code, out, err) = blog(
        &["config"],
        &instance,
        &[("PHIAL_DATABASE__MAX_CONNECTIONS", "7")],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["database"]["max_connections"], 7,
        "the environment wins: {out}"
    );
    assert_eq!(
        v["database"]["acquire_timeout_secs"], 3,
        "defaults show: {out}"
    );
    assert_eq!(v["migrate"]["lock_timeout_secs"], 60, "{out}");
    assert_eq!(v["cache"]["default_ttl_secs"], 300, "{out}");
    assert_eq!(
        v["secret_key_fallbacks"],
        serde_json::json!([]),
        "empty is not a secret: {out}"
    );
    assert!(v.get("cli").is_none(), "no internal keys: {out}");
}

/// Runs the binary with `stdin` on its standard input.
fn blog_with_input(args: &[&str], instance: &Path, stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blog"));
    cmd.args(args).current_dir(std::env::temp_dir());
    for (key, _) in std::env::vars() {
        if key.starts_with("PHIAL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PHIAL_INSTANCE_PATH", instance)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("the blog binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn admin_create_user_reads_the_password_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("instance");
    let create = ["admin", "create-user", "--username", "ada", "--superuser"];

    // Before the migrations: the fix is named.
    let (code, out, err) = blog_with_input(&create, &instance, "correct horse\n");
    assert_ne!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("db upgrade"), "{out}{err}");

    let (code, out, err) = blog(&["db", "upgrade"], &instance, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = blog_with_input(&create, &instance, "correct horse\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("created admin user `ada` (superuser)"),
        "{out}"
    );

    // Refusals, each with its reason, and nothing created.
    for (args, input, reason) in [
        (&create[..], "another one\n", "already"),
        (
            &["admin", "create-user", "--username", "bob"][..],
            "short\n",
            "too short",
        ),
        (
            &["admin", "create-user", "--username", "bob"][..],
            "",
            "standard input",
        ),
        (
            &["admin", "create-user", "--username", "b o b"][..],
            "long enough\n",
            "not allowed",
        ),
    ] {
        let (code, out, err) = blog_with_input(args, &instance, input);
        assert_ne!(code, 0, "{args:?}: {out}{err}");
        assert!(
            format!("{out}{err}").contains(reason),
            "{args:?}: {out}{err}"
        );
    }

    // The password was stored as a hash that signs Ada in.
    let url = format!("sqlite://{}", instance.join("app.sqlite").display());
    let app = blog::create_app(phial::Config::testing().set("database.url", url))
        .await
        .unwrap();
    let db = phial::orm::Db::from_state(app.state()).unwrap();
    let ada = phial::admin::authenticate(&db, "ada", "correct horse")
        .await
        .unwrap()
        .expect("ada signs in");
    assert!(ada.is_superuser && ada.password_hash.starts_with("$scrypt$"));
    assert!(
        phial::admin::authenticate(&db, "ada", "wrong horse")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        phial::admin::authenticate(&db, "bob", "short")
            .await
            .unwrap()
            .is_none()
    );
    app.shutdown().await;
}
