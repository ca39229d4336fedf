//! Three `blog` nodes started together by `scripts/blog-nodes.sh` with the
//! production config, against one PostgreSQL database and the local Redis
//! Cluster: migrations applied by one node; a write through node 1 drops
//! the cached page on nodes 2 and 3; a comment posted on node 2 reaches a
//! Socket.IO client (the official one) on node 3; a session made on node 1
//! is valid on node 3; a node stopped with SIGTERM while requests are in
//! flight answers every one of them; the cluster losing a primary keeps
//! every node serving. In front of them, nginx with the shipped
//! `deploy/nginx.conf`: requests spread over the nodes without stickiness,
//! Socket.IO's WebSocket passes through, and a stopped node is routed
//! around.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use phial::testing::{node_modules, postgres_url, redis_cli, redis_cluster_seed, tool};
use serde_json::{Value, json};

mod http_support;
use http_support::{free_ports, send};
mod nginx_support;
use nginx_support::Proxy;

/// The nodes of one test run: their own database, key prefix and folder;
/// stopped, and the database dropped, when dropped.
struct Nodes {
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    pg_server: String,
    db: String,
    prefix: String,
}

fn script_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name)
}

impl Nodes {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(script_path("blog-nodes.sh")).args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("PHIAL_") && !key.starts_with("PHIAL_TEST_") {
                cmd.env_remove(key);
            }
        }
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        cmd.env("PHIAL_NODES_BIN", env!("CARGO_BIN_EXE_blog"))
            .env("PHIAL_NODES_PORTS", ports.join(" "))
            .env("PHIAL_NODES_DB", &self.db)
            .env("PHIAL_NODES_PG", &self.pg_server)
            .env("PHIAL_NODES_DIR", self.dir.path())
            .env("PHIAL_NODES_PREFIX", &self.prefix);
        cmd
    }

    /// Runs the script; its exit status, standard output and error.
    fn script(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[node - 1])
    }

    fn log(&self, node: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node{node}.log"))).unwrap_or_default()
    }

    fn pid(&self, node: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node{node}.pid")))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn api_token(&self) -> String {
        self.token("api_token")
    }

    /// A token the script generated (`api_token`, `metrics_token`).
    fn token(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn logs(&self) -> String {
        (1..=self.ports.len())
            .map(|i| format!("--- node {i} ---\n{}", self.log(i)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        let _ = self.script(&["stop"], None);
        let _ = Command::new("psql")
            .arg(format!("{}/postgres", self.pg_server))
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.db),
            ])
            .output();
    }
}

fn psql(nodes: &Nodes, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(format!("{}/{}", nodes.pg_server, nodes.db))
        .args(["-tAc", sql])
        .output()
        .expect("psql runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits for `check` to hold, failing with `what` after `limit`.
async fn until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The official Socket.IO client following post `post_id` at `base`
/// (`tests/js/follow.js`): the process and its output lines.
fn follow(
    node: &std::path::Path,
    modules: &std::path::Path,
    base: String,
    post_id: String,
) -> (
    tokio::process::Child,
    tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) {
    use tokio::io::AsyncBufReadExt;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js/follow.js");
    let mut reader = tokio::process::Command::new(node)
        .arg(&script)
        .arg(base)
        .arg(post_id)
        .env("NODE_PATH", modules)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = tokio::io::BufReader::new(reader.stdout.take().unwrap()).lines();
    (reader, lines)
}

/// The next comment a `follow` reader prints, within 20 s.
async fn next_comment(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    what: &str,
) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{what} did not arrive"))
        .unwrap()
        .unwrap_or_default();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what}: {e}: {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_migrations_cache_sessions_and_live_comments_and_survive_failures() {
    let (Some(pg), Some((_, seed_port))) = (postgres_url().await, redis_cluster_seed().await)
    else {
        return;
    };
    let (Some(node), Some(modules), Some(_), Some(_), Some(_), Some(nginx)) = (
        tool("node"),
        node_modules("socket.io-client"),
        tool("psql"),
        tool("curl"),
        tool("redis-cli"),
        tool("nginx"),
    ) else {
        return;
    };
    let run = std::process::id();
    let nodes = Nodes {
        dir: tempfile::tempdir().unwrap(),
        ports: free_ports(3),
        pg_server: pg.rsplit_once('/').unwrap().0.to_owned(),
        db: format!("blog_nodes_{run}"),
        prefix: format!("blog-nodes-{run}"),
    };
    let http = http_support::client();

    // --- Started together: one node applies the migrations.
    let (ok, out, err) = nodes.script(&["start"], None);
    assert!(
        ok,
        "blog-nodes.sh start failed: {out}{err}\n{}",
        nodes.logs()
    );
    assert_eq!(out.lines().count(), 3, "one URL per node: {out}");
    let applied: Vec<usize> = (1..=3)
        .filter(|&i| nodes.log(i).contains("applied "))
        .collect();
    assert_eq!(
        applied.len(),
        1,
        "exactly one node migrates:\n{}",
        nodes.logs()
    );
    let (ok, out, err) = nodes.script(&["cli", "db", "check"], None);
    assert!(ok, "the database is up to date: {out}{err}");
    for i in 1..=3 {
        let ready = send(&http, "GET", &nodes.url(i, "/readyz"), &[], None)
            .await
            .unwrap();
        assert_eq!(ready.status, 200, "node {i}: {}", ready.body);
    }

    // --- A session made on node 1 is valid on node 3 (one secret key).
    let (ok, out, err) = nodes.script(
        &[
            "cli",
            "admin",
            "create-user",
            "--username",
            "ops",
            "--superuser",
        ],
        Some("a long enough password\n"),
    );
    assert!(ok, "admin create-user: {out}{err}");
    let form = send(&http, "GET", &nodes.url(1, "/admin/login"), &[], None)
        .await
        .unwrap();
    let cookie = form
        .session_cookie()
        .expect("the sign-in page starts a session");
    let token = form
        .body
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-in form carries a CSRF token")
        .to_owned();
    let signed_in = send(
        &http,
        "POST",
        &nodes.url(1, "/admin/login"),
        &[("cookie", &cookie)],
        Some((
            "application/x-www-form-urlencoded",
            format!("username=ops&password=a+long+enough+password&csrf_token={token}"),
        )),
    )
    .await
    .unwrap();
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let cookie = signed_in
        .session_cookie()
        .expect("signing in renews the session");
    let dashboard = send(
        &http,
        "GET",
        &nodes.url(3, "/admin/"),
        &[("cookie", &cookie)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(dashboard.status, 200, "node 3 knows the session");
    assert!(dashboard.body.contains("ops"), "{}", dashboard.body);
    let anonymous = send(&http, "GET", &nodes.url(3, "/admin/"), &[], None)
        .await
        .unwrap();
    assert_eq!(anonymous.status, 303, "and without it, sends to sign in");

    // --- A write through node 1 drops the page cached on nodes 2 and 3.
    let bearer = format!("Bearer {}", nodes.api_token());
    let auth = [("authorization", bearer.as_str())];
    let post_json = async |node: usize, path: &str, body: Value| {
        let res = send(
            &http,
            "POST",
            &nodes.url(node, path),
            &auth,
            Some(("application/json", body.to_string())),
        )
        .await
        .unwrap();
        assert_eq!(res.status, 201, "POST {path} on node {node}: {}", res.body);
        res.json()
    };
    let author = post_json(
        1,
        "/api/authors",
        json!({"name": "Ada", "email": "ada@example.com"}),
    )
    .await;
    let first = post_json(
        1,
        "/api/posts",
        json!({"author_id": author["id"], "title": "First of many", "body": "b", "published": true}),
    )
    .await;
    let index = async |node: usize| {
        let res = send(&http, "GET", &nodes.url(node, "/"), &[], None)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "node {node}: {}", res.body);
        res
    };
    let miss = index(2).await;
    assert!(miss.body.contains("First of many"));
    assert_eq!(miss.header("x-cache"), "MISS");
    assert_eq!(index(2).await.header("x-cache"), "HIT");
    let from_shared = index(3).await;
    assert_eq!(
        from_shared.header("x-cache"),
        "HIT",
        "node 3 reads the page node 2 rendered"
    );
    post_json(
        1,
        "/api/posts",
        json!({"author_id": author["id"], "title": "Written on node one", "body": "b", "published": true}),
    )
    .await;
    for node in [2, 3] {
        until(
            &format!("node {node} shows the post written on node 1"),
            Duration::from_secs(10),
            async || index(node).await.body.contains("Written on node one"),
        )
        .await;
    }

    // --- Each node's /metrics (behind the token in production) shows its
    // share: node 3 served the page from the shared tier, the schema is
    // current, and its lines are JSON with the request id.
    let unauthorized = send(&http, "GET", &nodes.url(3, "/metrics"), &[], None)
        .await
        .unwrap();
    assert_eq!(unauthorized.status, 401, "{}", unauthorized.body);
    let bearer_metrics = format!("Bearer {}", nodes.token("metrics_token"));
    let scrape = send(
        &http,
        "GET",
        &nodes.url(3, "/metrics"),
        &[("authorization", &bearer_metrics)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    let series = |name: &str| {
        phial::testing::metric(&scrape.body, name)
            .unwrap_or_else(|| panic!("no {name} on node 3:\n{}", scrape.body))
    };
    assert!(series(r#"phial_cache_hits_total{backend="tiered",tier="l2"}"#) >= 1.0);
    assert_eq!(series(r#"phial_migrations{state="pending"}"#), 0.0);
    assert_eq!(series("phial_cache_invalidation_subscribed"), 1.0);
    assert!(series(r#"phial_http_requests_total{method="GET",route="/",status="200"}"#) >= 2.0);
    let logged: Vec<Value> = nodes
        .log(1)
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("node 1 logs a line that is not JSON ({e}): {l}"))
        })
        .collect();
    assert!(
        logged.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("applied ") || m.contains("serving on"))),
        "{}",
        nodes.log(1)
    );

    // --- A comment posted on node 2 reaches a reader on node 3.
    let reader_at = |base: String| follow(&node, &modules, base, first["id"].to_string());
    let (mut reader, mut lines) = reader_at(nodes.url(3, ""));
    assert_eq!(
        lines.next_line().await.unwrap().as_deref(),
        Some("joined"),
        "the reader follows the post on node 3"
    );
    post_json(
        2,
        "/api/comments",
        json!({"post_id": first["id"], "author_name": "Grace", "body": "from node two"}),
    )
    .await;
    let comment = next_comment(&mut lines, "the comment from node 2").await;
    assert_eq!(comment["body"], "from node two", "{comment}");
    assert!(reader.wait().await.unwrap().success());

    // --- nginx in front, with the shipped config: requests go to every
    // node (no stickiness), each answered with the id nginx gave it.
    let proxy = Proxy::start(&nginx, &nodes.ports, &http).await;
    let through = 9;
    for _ in 0..through {
        let res = send(&http, "GET", &proxy.url("/field/json"), &[], None)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{}\n{}", res.body, proxy.errors());
        let id = res.header("x-request-id");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "the node keeps nginx's $request_id: `{id}`"
        );
    }
    let mut served = Vec::new();
    for i in 1..=3 {
        let scrape = send(
            &http,
            "GET",
            &nodes.url(i, "/metrics"),
            &[("authorization", &bearer_metrics)],
            None,
        )
        .await
        .unwrap();
        served.push(
            phial::testing::metric(
                &scrape.body,
                r#"phial_http_requests_total{method="GET",route="/field/json",status="200"}"#,
            )
            .unwrap_or(0.0),
        );
    }
    assert!(
        served.iter().all(|&n| n >= 1.0),
        "every node served some of the requests through nginx: {served:?}"
    );
    assert_eq!(served.iter().sum::<f64>(), f64::from(through), "{served:?}");
    // Socket.IO through nginx: the WebSocket upgrade passes, and a comment
    // posted through nginx (whichever node takes it) reaches the reader.
    let (mut reader, mut lines) = reader_at(proxy.url(""));
    assert_eq!(
        lines.next_line().await.unwrap().as_deref(),
        Some("joined"),
        "the reader follows the post through nginx: {}",
        proxy.errors()
    );
    let res = send(
        &http,
        "POST",
        &proxy.url("/api/comments"),
        &auth,
        Some((
            "application/json",
            json!({"post_id": first["id"], "author_name": "Linus", "body": "through the proxy"})
                .to_string(),
        )),
    )
    .await
    .unwrap();
    assert_eq!(res.status, 201, "{}", res.body);
    let comment = next_comment(&mut lines, "the comment through nginx").await;
    assert_eq!(comment["body"], "through the proxy", "{comment}");
    assert!(reader.wait().await.unwrap().success());

    // --- SIGTERM with requests in flight: each one is answered.
    let in_flight = 12;
    let slow: Vec<_> = (0..in_flight)
        .map(|_| {
            let http = http.clone();
            let url = nodes.url(1, "/io/sequential");
            tokio::spawn(async move { send(&http, "GET", &url, &[], None).await })
        })
        .collect();
    until(
        "every slow request is in the database",
        Duration::from_secs(20),
        async || {
            let sleeping = psql(
                &nodes,
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%' \
                 AND pid <> pg_backend_pid()",
            );
            sleeping.parse::<usize>().unwrap_or(0) >= in_flight - 2
        },
    )
    .await;
    let pid = nodes.pid(1);
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for (i, task) in slow.into_iter().enumerate() {
        let res = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("request {i} failed: {e}\n{}", nodes.log(1)));
        assert_eq!(res.status, 200, "request {i}: {}", res.body);
        assert_eq!(res.json()["queries"], 3, "{}", res.body);
    }
    until("node 1 exits", Duration::from_secs(30), async || {
        !Command::new("kill")
            .args(["-0", &pid])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    })
    .await;
    assert!(
        send(&http, "GET", &nodes.url(1, "/healthz"), &[], None)
            .await
            .is_err(),
        "node 1 no longer listens"
    );
    assert!(
        nodes.log(1).contains("shut down"),
        "node 1 says it shut down:\n{}",
        nodes.log(1)
    );
    // nginx routes around the stopped node: no request through it fails.
    for _ in 0..through {
        let res = send(&http, "GET", &proxy.url("/field/json"), &[], None)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{}\n{}", res.body, proxy.errors());
    }

    // --- A Redis primary lost: nodes 2 and 3 keep serving reads and writes
    // through the failover and after it.
    let primary = redis_cli(seed_port, &["cluster", "nodes"])
        .lines()
        .find(|l| l.contains("master") && !l.contains("fail") && l.contains("connected"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|addr| addr.split(['@', ':']).nth(1))
        .and_then(|p| p.parse::<u16>().ok())
        .expect("a primary");
    redis_cli(primary, &["shutdown", "nosave"]);
    let probe = if primary == seed_port {
        seed_port + 1
    } else {
        seed_port
    };
    // A write whose cache tag lives on the lost primary's slots cannot be
    // announced until the replica takes over: it is refused (503, nothing
    // saved), never acknowledged and then served stale by another node.
    let mut rounds = 0;
    let mut healed_rounds = 0;
    let (mut saved, mut refused) = (Vec::new(), Vec::new());
    while healed_rounds < 3 {
        rounds += 1;
        assert!(rounds < 400, "the cluster did not heal");
        let mut all_saved = true;
        for node in [2, 3] {
            let page = index(node).await;
            assert!(page.body.contains("First of many"));
            // Each comment's author names it (a filter the API offers).
            let body = format!("Eve {rounds}-{node}");
            // Each from its own reader (the nodes trust the loopback proxy's
            // X-Forwarded-For): a slow failover takes more than the blog's
            // ten comments a minute per address.
            let client = format!("10.{}.{}.{node}", rounds / 256, rounds % 256);
            let headers = [auth[0], ("x-forwarded-for", client.as_str())];
            let res = send(
                &http,
                "POST",
                &nodes.url(node, "/api/comments"),
                &headers,
                Some((
                    "application/json",
                    json!({"post_id": first["id"], "author_name": body, "body": "failover"})
                        .to_string(),
                )),
            )
            .await
            .unwrap();
            match res.status {
                201 => saved.push(body),
                503 if res.body.contains("nothing was saved") => {
                    all_saved = false;
                    refused.push(body);
                }
                other => panic!(
                    "a comment on node {node} during the failover: {other} {}",
                    res.body
                ),
            }
        }
        if all_saved && redis_cli(probe, &["cluster", "info"]).contains("cluster_state:ok") {
            healed_rounds += 1;
        }
    }
    // What was acknowledged is there; what was refused is not.
    let comments = async |body: &str| -> usize {
        let url = nodes.url(
            2,
            &format!(
                "/api/comments?author_name={}&per_page=5",
                body.replace(' ', "%20")
            ),
        );
        let res = send(&http, "GET", &url, &auth, None).await.unwrap();
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()["items"].as_array().unwrap().len()
    };
    for body in &refused {
        assert_eq!(comments(body).await, 0, "a refused write was saved: {body}");
    }
    for body in saved.iter().rev().take(4).chain(saved.first()) {
        assert_eq!(
            comments(body).await,
            1,
            "an acknowledged write is missing: {body}"
        );
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "MEASURED a Redis primary lost: {} comments acknowledged, {} refused with 503 (nothing saved) while its slots moved\n",
            saved.len(),
            refused.len()
        )
        .as_bytes(),
    );
    // Bring the stopped primary back (it rejoins as a replica).
    let status = Command::new("bash")
        .arg(script_path("redis-cluster.sh"))
        .arg("start")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the cluster restarts its stopped node");
}
