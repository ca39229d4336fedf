//! The recipes in `deploy/` hold what they say. No container base image
//! can be pulled on this machine, so the container's runtime stage is run
//! as its steps say: the binary alone in an empty working folder, as the
//! image's user (uid 10001, when the test runs as root), with the image's
//! environment and config; it migrates, answers its probes and the metrics
//! scrape, and stops cleanly on SIGTERM. The systemd unit and the
//! Kubernetes manifest are checked against the image and the app's
//! settings (ports, probe paths, stop timeouts longer than the app's).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use phial::testing::{postgres_url, redis_cluster_seed};

mod http_support;
use http_support::send;

fn deploy_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Dockerfile's last stage: its `ENV` pairs, user id, exposed port,
/// the command, and where the config is copied.
struct RuntimeStage {
    env: HashMap<String, String>,
    uid: u32,
    port: u16,
    command: Vec<String>,
    config_copy: (String, String),
}

fn runtime_stage() -> RuntimeStage {
    let text = deploy_file("Dockerfile").replace("\\\n", " ");
    let stage = text.rsplit("\nFROM ").next().unwrap();
    let mut env = HashMap::new();
    let (mut uid, mut port, mut command, mut config_copy) = (None, None, Vec::new(), None);
    for line in stage.lines().map(str::trim) {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("ENV KEY=value");
                    env.insert(k.to_owned(), v.to_owned());
                }
            }
            "RUN" if rest.contains("useradd") => {
                let after = rest.split("--uid ").nth(1).expect("useradd --uid N");
                uid = after.split_whitespace().next().and_then(|n| n.parse().ok());
            }
            "EXPOSE" => port = rest.trim().parse().ok(),
            "ENTRYPOINT" | "CMD" => {
                let list: Vec<String> = serde_json::from_str(rest).expect("exec form");
                command.extend(list);
            }
            "COPY" if rest.contains("production.toml") => {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                config_copy = Some((parts[0].to_owned(), parts[1].to_owned()));
            }
            _ => {}
        }
    }
    RuntimeStage {
        env,
        uid: uid.expect("a user id"),
        port: port.expect("EXPOSE"),
        command,
        config_copy: config_copy.expect("the config copied in"),
    }
}

fn psql(url: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .arg(url)
        .args(["-qc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_container_runtime_stage_serves_as_its_user_and_stops_on_sigterm() {
    let Some(pg) = postgres_url().await else {
        return;
    };
    let Some(_) = redis_cluster_seed().await else {
        return;
    };
    let stage = runtime_stage();
    assert_eq!(stage.command, ["/usr/local/bin/blog", "run"]);
    assert_eq!(stage.env["PHIAL_ENV"], "production");
    assert_eq!(
        stage.env["PHIAL_SERVER__BIND"],
        format!("0.0.0.0:{}", stage.port)
    );
    let (source, target) = &stage.config_copy;
    assert_eq!(
        target, &stage.env["PHIAL_CONFIG"],
        "the config is where PHIAL_CONFIG looks"
    );

    // The image's file system: the binary (mode 0755) and the config where
    // the stage puts them, and an empty working folder owned by the user.
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("usr/local/bin/blog");
    let config = root.path().join(target.trim_start_matches('/'));
    let app = root.path().join("app");
    for dir in [bin.parent().unwrap(), config.parent().unwrap(), &app] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::copy(env!("CARGO_BIN_EXE_blog"), &bin).unwrap();
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(workspace.join(source), &config).unwrap();
    let as_root = nix_uid() == 0;
    use std::os::unix::fs::PermissionsExt;
    for dir in [root.path(), &app] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    if as_root {
        std::os::unix::fs::chown(&app, Some(stage.uid), Some(stage.uid)).unwrap();
    }

    let db = format!("blog_container_{}", std::process::id());
    let server = pg.rsplit_once('/').unwrap().0.to_owned();
    psql(
        &format!("{server}/postgres"),
        &format!("DROP DATABASE IF EXISTS {db}"),
    );
    psql(
        &format!("{server}/postgres"),
        &format!("CREATE DATABASE {db}"),
    );
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let secret = "c".repeat(64);
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.args(&stage.command[1..]).current_dir(&app).env_clear();
    for (k, v) in &stage.env {
        cmd.env(k, v);
    }
    cmd.env("PATH", "/usr/bin:/bin")
        .env("PHIAL_CONFIG", &config)
        // `docker run -p` maps a host port to the image's; here the bind
        // is narrowed to a free loopback port.
        .env("PHIAL_SERVER__BIND", format!("127.0.0.1:{port}"))
        // A release build's root is its working folder (the image's
        // WORKDIR); this test runs the debug build, whose root is the
        // crate: the instance folder is put where the image has it.
        .env("PHIAL_INSTANCE_PATH", app.join("instance"))
        .env("PHIAL_SECRET_KEY", &secret)
        .env("PHIAL_BLOG__API_TOKEN", &secret)
        .env("PHIAL_METRICS__TOKEN", &secret)
        .env("PHIAL_DATABASE__URL", format!("{server}/{db}"))
        .env("PHIAL_CACHE__KEY_PREFIX", format!("{db}:"))
        .env("PHIAL_SOCKET__CHANNEL_PREFIX", format!("{db}-socket.io"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if as_root {
        cmd.uid(stage.uid).gid(stage.uid);
    }
    let mut child = cmd.spawn().expect("the binary starts");
    let http = http_support::client();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..600 {
        if send(&http, "GET", &format!("{base}/healthz"), &[], None)
            .await
            .is_ok_and(|r| r.status == 200)
        {
            up = true;
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the blog exited ({status}) before serving: {}",
                stderr_of(&mut child).await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "no answer on /healthz");
    let ready = send(&http, "GET", &format!("{base}/readyz"), &[], None)
        .await
        .unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    let index = send(&http, "GET", &format!("{base}/"), &[], None)
        .await
        .unwrap();
    assert_eq!(index.status, 200, "migrated and serving: {}", index.body);
    let bearer = format!("Bearer {secret}");
    let metrics = send(
        &http,
        "GET",
        &format!("{base}/metrics"),
        &[("authorization", &bearer)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains(r#"phial_migrations{state="pending"} 0"#),
        "{}",
        metrics.body
    );

    // `docker stop`: SIGTERM, then the grace period.
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(40), child.wait())
        .await
        .expect("stops within the grace period")
        .unwrap();
    let log = stderr_of(&mut child).await;
    assert!(status.success(), "exit {status}: {log}");
    assert!(log.contains("shut down"), "{log}");
    let instance = std::fs::metadata(app.join("instance")).expect("the instance folder is made");
    if as_root {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(instance.uid(), stage.uid, "made by the image's user");
    }
    for line in log.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
    }
    psql(
        &format!("{server}/postgres"),
        &format!("DROP DATABASE {db} WITH (FORCE)"),
    );
}

async fn stderr_of(child: &mut tokio::process::Child) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text).await;
    }
    text
}

/// The effective user id of this process.
fn nix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

#[test]
fn the_unit_and_the_manifest_agree_with_the_image_and_the_app() {
    let stage = runtime_stage();
    let core = phial::Config::for_profile(phial::Profile::Production)
        .core()
        .unwrap();
    // The drain (readiness 503, connections closing) comes first.
    let grace = core.server.drain_secs + core.shutdown_timeout_secs;

    let unit = deploy_file("blog.service");
    let key = |name: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("blog.service has no {name}="))
            .to_owned()
    };
    assert_eq!(key("ExecStart"), "/usr/local/bin/blog run");
    assert_eq!(key("KillSignal"), "SIGTERM");
    let stop: u64 = key("TimeoutStopSec").parse().unwrap();
    assert!(
        stop > grace,
        "systemd must wait longer than the app drains ({grace}s)"
    );

    let manifest = deploy_file("kubernetes.yaml");
    let number = |name: &str| -> u64 {
        manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("kubernetes.yaml has no {name}"))
    };
    assert!(number("terminationGracePeriodSeconds") > grace);
    assert_eq!(number("runAsUser"), u64::from(stage.uid));
    assert!(
        manifest.contains(&format!("containerPort: {}", stage.port)),
        "{manifest}"
    );
    for path in [&core.health.live_path, &core.health.ready_path] {
        assert!(manifest.contains(&format!("path: {path}")), "probe {path}");
    }
    let nginx = deploy_file("nginx.conf");
    assert!(
        nginx.contains("proxy_set_header Upgrade $http_upgrade;"),
        "WebSockets pass the proxy"
    );
    assert!(!nginx.contains("ip_hash"), "no sticky sessions");
}
