//! The blog as a newcomer meets it and as it is deployed: the first
//! development run makes an admin user and prints its password (which signs
//! in, and is not printed again); the production config
//! (`deploy/production.toml`) passes `check --deploy` with nothing to
//! report; the async demo pages run their three queries one after another
//! and at once.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use phial::testing::postgres_url;
use tokio::io::{AsyncBufReadExt, BufReader};

mod http_support;
use http_support::send;

fn blog_command(instance: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_blog"));
    cmd.current_dir(std::env::temp_dir());
    for (key, _) in std::env::vars() {
        if key.starts_with("PHIAL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PHIAL_INSTANCE_PATH", instance);
    cmd
}

/// Starts `blog run` on a free port; its address and every log line up to
/// the one that says it serves.
async fn run_blog(instance: &std::path::Path) -> (tokio::process::Child, String, Vec<String>) {
    let mut child = blog_command(instance)
        .args(["run", "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the blog binary runs");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let addr = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("the blog exited before serving: {seen:#?}"));
            if let Some(rest) = line.split("serving on http://").nth(1) {
                seen.push(line.clone());
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            seen.push(line);
        }
    })
    .await
    .expect("the blog serves");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr, seen)
}

#[tokio::test]
async fn the_first_development_run_prints_an_admin_user_that_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("instance");
    let (mut server, addr, log) = run_blog(&instance).await;
    let line = log
        .iter()
        .find(|l| l.contains("development admin user created"))
        .unwrap_or_else(|| panic!("no admin user printed: {log:#?}"));
    let password = line
        .split("password `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("the password is in the line");
    assert!(password.len() >= 16, "{line}");

    let http = http_support::client();
    let base = format!("http://{addr}");
    let form = send(&http, "GET", &format!("{base}/admin/login"), &[], None)
        .await
        .unwrap();
    let cookie = form.session_cookie().unwrap();
    let token = form
        .body
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let body = format!("username=admin&password={password}&csrf_token={token}");
    let signed_in = send(
        &http,
        "POST",
        &format!("{base}/admin/login"),
        &[("cookie", &cookie)],
        Some(("application/x-www-form-urlencoded", body)),
    )
    .await
    .unwrap();
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let cookie = signed_in.session_cookie().unwrap();
    let dashboard = send(
        &http,
        "GET",
        &format!("{base}/admin/"),
        &[("cookie", &cookie)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(dashboard.status, 200);
    // Everything the first run promises answers.
    for path in [
        "/",
        "/api/posts",
        "/api/docs/",
        "/healthz",
        "/readyz",
        "/socket.io/socket.io.min.js",
    ] {
        let res = send(&http, "GET", &format!("{base}{path}"), &[], None)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
    server.kill().await.unwrap();

    // The second run keeps that user and prints no password.
    let (_server, _, log) = run_blog(&instance).await;
    assert!(
        !log.iter().any(|l| l.contains("password")),
        "no password printed again: {log:#?}"
    );
}

#[tokio::test]
async fn the_production_config_passes_check_deploy_with_nothing_to_report() {
    let Some(server) = postgres_url().await else {
        return;
    };
    // A database of its own, migrated as a deploy would: the check reads
    // the blog's tables and their indexes.
    use sea_orm::ConnectionTrait;
    let admin = sea_orm::Database::connect(&server).await.unwrap();
    admin
        .execute_unprepared("DROP DATABASE IF EXISTS phial_blog_deploy WITH (FORCE)")
        .await
        .unwrap();
    admin
        .execute_unprepared("CREATE DATABASE phial_blog_deploy")
        .await
        .unwrap();
    let pg = format!(
        "{}/phial_blog_deploy",
        server.rsplit_once('/').expect("a database in the URL").0
    );
    let dir = tempfile::tempdir().unwrap();
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/production.toml");
    let secret = "f".repeat(64);
    let upgrade = blog_command(&dir.path().join("instance"))
        .args(["db", "upgrade"])
        .env("PHIAL_DATABASE__URL", &pg)
        .output()
        .await
        .unwrap();
    assert!(
        upgrade.status.success(),
        "{}",
        String::from_utf8_lossy(&upgrade.stderr)
    );
    let check_deploy = async |env: &[(&str, &str)]| {
        let mut cmd = blog_command(&dir.path().join("instance"));
        cmd.args(["check", "--deploy"])
            .env("PHIAL_ENV", "production")
            .env("PHIAL_CONFIG", &config)
            // The file's database, on this machine's server.
            .env("PHIAL_DATABASE__URL", &pg);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().await.unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = check_deploy(&[
        ("PHIAL_SECRET_KEY", &secret),
        ("PHIAL_BLOG__API_TOKEN", &secret),
        ("PHIAL_METRICS__TOKEN", &secret),
    ])
    .await;
    assert!(ok, "{text}");
    assert!(
        !text.contains("WARNING") && !text.contains("ERROR"),
        "nothing to report: {text}"
    );
    let with_keys = [
        ("PHIAL_SECRET_KEY", secret.as_str()),
        ("PHIAL_BLOG__API_TOKEN", secret.as_str()),
        ("PHIAL_METRICS__TOKEN", secret.as_str()),
    ];

    // Every list column has its index; one dropped is named with the
    // statement that puts it back (a post with no comments would scan
    // every comment for its own).
    let db = sea_orm::Database::connect(&pg).await.unwrap();
    db.execute_unprepared("DROP INDEX comment_post_id_idx")
        .await
        .unwrap();
    db.execute_unprepared("DROP INDEX post_title_trgm")
        .await
        .unwrap();
    let (ok, text) = check_deploy(&with_keys).await;
    assert!(ok, "warnings only: {text}");
    assert!(
        text.contains("WARNING orm: index.comment.post_id")
            && text.contains("CREATE INDEX comment_post_id_idx ON comment (post_id)"),
        "{text}"
    );
    assert!(
        text.contains("WARNING orm: index.post.title")
            && text.contains("USING gin (lower(title) gin_trgm_ops)"),
        "{text}"
    );
    db.execute_unprepared("CREATE INDEX comment_post_id_idx ON comment (post_id)")
        .await
        .unwrap();
    db.execute_unprepared(
        "CREATE INDEX post_title_trgm ON post USING gin (lower(title) gin_trgm_ops)",
    )
    .await
    .unwrap();
    let (ok, text) = check_deploy(&with_keys).await;
    assert!(ok && !text.contains("WARNING"), "put back: {text}");
    db.close().await.unwrap();

    // Without a metrics token the page stays off, and the check says how
    // to turn it on.
    let (ok, text) = check_deploy(&[
        ("PHIAL_SECRET_KEY", &secret),
        ("PHIAL_BLOG__API_TOKEN", &secret),
    ])
    .await;
    assert!(ok, "a warning only: {text}");
    assert!(
        text.contains("WARNING metrics.token") && text.contains("PHIAL_METRICS__TOKEN"),
        "{text}"
    );

    // Without the secret key it is refused, naming the fix.
    let (ok, text) = check_deploy(&[]).await;
    assert!(!ok, "{text}");
    assert!(text.contains("PHIAL_SECRET_KEY"), "{text}");
}

#[tokio::test]
async fn the_async_demo_pages_wait_one_after_another_or_at_once() {
    // On SQLite there is nothing to sleep in: a 501 that says so.
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    let app = blog::create_app(phial::Config::testing().set("database.url", db))
        .await
        .unwrap();
    let res = app.test_client().get("/io/joined").send().await;
    assert_eq!(res.status(), 501);
    assert!(res.text().contains("PostgreSQL"));

    let Some(pg) = postgres_url().await else {
        return;
    };
    // The pages touch no table: the shared test database's migrations
    // (other suites' too) are left as they are.
    let config = phial::Config::testing()
        .set("database.url", pg)
        .set("migrate.auto_upgrade", false);
    let app = blog::create_app(config).await.unwrap();
    let client = app.test_client();
    let time = async |path: &str| {
        let res = client.get(path).send().await;
        assert_eq!(res.status(), 200, "{path}");
        let timing: blog::io_demo::Timing = res.json();
        assert_eq!(timing.queries, 3);
        timing.ms
    };
    // The pool opens its connections on the first call.
    time("/io/joined").await;
    let sequential = time("/io/sequential").await;
    let joined = time("/io/joined").await;
    assert!(
        sequential >= 300,
        "three 100 ms waits in a row: {sequential} ms"
    );
    assert!(
        joined < 300,
        "joined, the waits overlap (the three in a row take 300 ms): {joined} ms"
    );
}
