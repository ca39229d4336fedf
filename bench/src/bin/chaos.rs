//! Run with `scripts/chaos.sh` (it starts what this drives and sets the
//! environment below).
//!
//! The checker of the consistency suite: writers PATCH post titles with
//! increasing versions through the nodes' API, readers GET them on random
//! nodes, each writer reads its own write back on another node with the
//! `Phial-Wrote` mark, and faults are injected on a schedule. Then the
//! history is checked: stale reads by how long the value read had been
//! replaced (against the acknowledgement times), read-your-writes
//! violations, lost acknowledged writes (the database read at the end),
//! 5xx and connection errors inside and outside fault windows, and how
//! long after each fault the writes were acknowledged again. Prints a
//! Markdown report, writes it and an SVG timeline to `CHAOS_OUT`, and
//! exits non-zero when a guarantee broke.
//!
//! Environment: `CHAOS_PORTS` (the nodes' ports), `CHAOS_TOKEN` (the API
//! token), `CHAOS_DB_URL` (psql reads the titles at the end),
//! `CHAOS_DURATION` (seconds), `CHAOS_FAULT_EVERY` (seconds between
//! faults), `CHAOS_FAULTS` (kinds, comma-separated: `redis-kill`,
//! `redis-freeze`, `node-term`, `node-kill`, `pg-restart`),
//! `CHAOS_NODES_DIR` and `CHAOS_NODES_SCRIPT` (the nodes' pids, and the
//! script that starts the ones missing), `CHAOS_REDIS_SEED` (a Redis
//! Cluster port), `CHAOS_CLUSTER_SCRIPT`, `CHAOS_PG_RESTART` (a command
//! that restarts the private PostgreSQL), `CHAOS_OUT`.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

type Http = Client<HttpConnector, Full<Bytes>>;

/// The coherence bound the nodes run with (`cache.coherence_ms`).
const BOUND: Duration = Duration::from_millis(250);
/// After a fault ends, how long its effects may last (reconnections).
const GRACE: Duration = Duration::from_secs(5);
const POSTS: usize = 8;
const WRITERS: usize = 4;
const READERS: usize = 6;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// One answer: status (0: the connection failed), body, the mark.
struct Answer {
    status: u16,
    body: String,
    mark: Option<String>,
}

async fn send(
    http: &Http,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<Value>,
) -> Answer {
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Full::new(Bytes::from(v.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let call = http.request(req.body(body).expect("a request"));
    let Ok(Ok(res)) = tokio::time::timeout(Duration::from_secs(10), call).await else {
        return Answer {
            status: 0,
            body: String::new(),
            mark: None,
        };
    };
    let status = res.status().as_u16();
    let mark = res
        .headers()
        .get("phial-wrote")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match res.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => {
            return Answer {
                status: 0,
                body: String::new(),
                mark: None,
            };
        }
    };
    Answer { status, body, mark }
}

fn version_of(body: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["title"].as_str()?.strip_prefix('v')?.parse().ok()
}

/// What happened, in ms since the run began.
#[derive(Default)]
struct History {
    /// post → (version, acknowledged at)
    acks: HashMap<i64, Vec<(u64, f64)>>,
    /// (post, began, ended, version read)
    reads: Vec<(i64, f64, f64, u64)>,
    /// (at, what, status)
    failures: Vec<(f64, &'static str, u16)>,
    refused: usize,
    ryw_violations: Vec<String>,
    /// (kind, began, ended)
    faults: Vec<(String, f64, f64)>,
}

struct Run {
    http: Http,
    ports: Vec<u16>,
    token: String,
    start: Instant,
    history: Mutex<History>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Run {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}{path}",
            self.ports[node % self.ports.len()]
        )
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A number below `n`, spread (not secret): std's hasher keys differ
/// with every `RandomState`.
fn random(n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let h = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (h % n as u64) as usize
}

async fn writer(run: Arc<Run>, posts: Vec<i64>) {
    let auth = format!("Bearer {}", run.token);
    let mut versions: HashMap<i64, u64> = posts.iter().map(|p| (*p, 0)).collect();
    while !run.stopped() {
        let post = posts[random(posts.len())];
        let next = versions[&post] + 1;
        let node = random(run.ports.len());
        let res = send(
            &run.http,
            "PATCH",
            &run.url(node, &format!("/api/posts/{post}")),
            &[("authorization", auth.clone())],
            Some(json!({"title": format!("v{next}")})),
        )
        .await;
        match res.status {
            200 => {
                let acked = run.now();
                versions.insert(post, next);
                run.history()
                    .acks
                    .entry(post)
                    .or_default()
                    .push((next, acked));
                // Read it back on another node with the mark.
                let other = (node + 1 + random(run.ports.len() - 1)) % run.ports.len();
                let mark = res.mark.unwrap_or_default();
                let back = send(
                    &run.http,
                    "GET",
                    &run.url(other, &format!("/api/posts/{post}")),
                    &[("phial-wrote", mark)],
                    None,
                )
                .await;
                if back.status == 200 {
                    let seen = version_of(&back.body).unwrap_or(0);
                    if seen < next {
                        run.history().ryw_violations.push(format!(
                            "post {post}: wrote v{next} on node {}, read v{seen} on node {} at {:.0} ms",
                            node + 1,
                            other + 1,
                            run.now()
                        ));
                    }
                }
            }
            503 if res.body.contains("nothing was saved") => run.history().refused += 1,
            // Counted when it failed: a request that began just before a
            // fault and failed with it belongs to the fault.
            status => {
                let failed = run.now();
                run.history().failures.push((failed, "write", status));
            }
        }
    }
}

async fn reader(run: Arc<Run>, posts: Vec<i64>) {
    while !run.stopped() {
        let post = posts[random(posts.len())];
        let node = random(run.ports.len());
        let began = run.now();
        let res = send(
            &run.http,
            "GET",
            &run.url(node, &format!("/api/posts/{post}")),
            &[],
            None,
        )
        .await;
        let ended = run.now();
        match (res.status, version_of(&res.body)) {
            (200, Some(v)) => run.history().reads.push((post, began, ended, v)),
            (200, None) => {}
            (status, _) => run.history().failures.push((ended, "read", status)),
        }
    }
}

fn sh(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn redis_primary(seed: &str) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-p", seed, "cluster", "nodes"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("master") && !l.contains("fail") && l.contains("connected"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|a| a.split(['@', ':']).nth(1).map(str::to_owned))
        .find(|p| p != seed)
}

fn node_pid(dir: &str, node: usize) -> Option<String> {
    std::fs::read_to_string(format!("{dir}/node{node}.pid"))
        .ok()
        .map(|s| s.trim().to_owned())
}

async fn wait_exit(pid: &str) {
    for _ in 0..400 {
        if !sh("kill", &["-0", pid]) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Injects one fault and undoes it; returns when the system was told to
/// recover (the recovery itself is measured from the history).
async fn fault(kind: &str, n: usize) {
    let seed = env("CHAOS_REDIS_SEED", "7100");
    let dir = env("CHAOS_NODES_DIR", "/tmp/phial-chaos/nodes");
    let nodes_script = env("CHAOS_NODES_SCRIPT", "scripts/blog-nodes.sh");
    let node = 1 + n % env("CHAOS_PORTS", "5101 5102 5103")
        .split_whitespace()
        .count();
    match kind {
        "redis-kill" => {
            if let Some(port) = redis_primary(&seed) {
                sh("redis-cli", &["-p", &port, "shutdown", "nosave"]);
                tokio::time::sleep(Duration::from_secs(4)).await;
                sh(
                    "bash",
                    &[
                        &env("CHAOS_CLUSTER_SCRIPT", "scripts/redis-cluster.sh"),
                        "start",
                    ],
                );
            }
        }
        "redis-freeze" => {
            if let Some(port) = redis_primary(&seed) {
                sh("redis-cli", &["-p", &port, "debug", "sleep", "4"]);
            }
        }
        "node-term" | "node-kill" => {
            let signal = if kind == "node-term" {
                "-TERM"
            } else {
                "-KILL"
            };
            if let Some(pid) = node_pid(&dir, node) {
                sh("kill", &[signal, &pid]);
                wait_exit(&pid).await;
                sh("bash", &[&nodes_script, "start"]);
            }
        }
        "pg-restart" => {
            let restart = env("CHAOS_PG_RESTART", "");
            if !restart.is_empty() {
                sh("bash", &["-c", &restart]);
            }
        }
        other => eprintln!("unknown fault kind `{other}`"),
    }
}

fn psql_titles(url: &str) -> HashMap<i64, u64> {
    let out = Command::new("psql")
        .args([url, "-tAc", "SELECT id, title FROM post"])
        .output()
        .expect("psql runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, title) = l.split_once('|')?;
            Some((
                id.parse().ok()?,
                title
                    .strip_prefix('v')
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            ))
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let ports: Vec<u16> = env("CHAOS_PORTS", "5101 5102 5103")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let duration = Duration::from_secs(env("CHAOS_DURATION", "150").parse().unwrap_or(150));
    let every = Duration::from_secs(env("CHAOS_FAULT_EVERY", "10").parse().unwrap_or(10));
    let kinds: Vec<String> = env(
        "CHAOS_FAULTS",
        "redis-kill,redis-freeze,node-term,node-kill,pg-restart",
    )
    .split(',')
    .map(str::to_owned)
    .collect();
    let out = env("CHAOS_OUT", "/tmp/phial-chaos");
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = Arc::new(Run {
        http,
        ports,
        token: env("CHAOS_TOKEN", ""),
        start: Instant::now(),
        history: Mutex::new(History::default()),
        stop,
    });

    // The rows: one author, POSTS posts titled v0.
    let auth = [("authorization", format!("Bearer {}", run.token))];
    let author = send(
        &run.http,
        "POST",
        &run.url(0, "/api/authors"),
        &auth,
        Some(json!({"name": "Chaos", "email": format!("chaos{}@example.com", std::process::id())})),
    )
    .await;
    assert_eq!(author.status, 201, "the author: {}", author.body);
    let author: Value = serde_json::from_str(&author.body).unwrap();
    let mut posts = Vec::new();
    for _ in 0..POSTS {
        let res = send(
            &run.http,
            "POST",
            &run.url(0, "/api/posts"),
            &auth,
            Some(json!({"author_id": author["id"], "title": "v0", "body": "chaos", "published": true})),
        )
        .await;
        assert_eq!(res.status, 201, "a post: {}", res.body);
        let post: Value = serde_json::from_str(&res.body).unwrap();
        posts.push(post["id"].as_i64().unwrap());
    }

    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let mine: Vec<i64> = posts.iter().copied().skip(w).step_by(WRITERS).collect();
        tasks.spawn(writer(run.clone(), mine));
    }
    for _ in 0..READERS {
        tasks.spawn(reader(run.clone(), posts.clone()));
    }
    // The schedule: a quiet stretch, then one fault every `every`.
    let mut n = 0;
    let mut next = Instant::now() + every;
    while run.start.elapsed() + every < duration {
        tokio::time::sleep_until(next.into()).await;
        let kind = &kinds[n % kinds.len()];
        let began = run.now();
        println!("fault {kind} at {:.1} s", began / 1000.0);
        fault(kind, n).await;
        let ended = run.now();
        run.history().faults.push((kind.clone(), began, ended));
        n += 1;
        next = Instant::now() + every;
    }
    tokio::time::sleep(duration.saturating_sub(run.start.elapsed())).await;
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}

    let final_titles = psql_titles(&env("CHAOS_DB_URL", ""));
    let report = check(&run.history(), &final_titles);
    println!("{}", report.markdown);
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(format!("{out}/report.md"), &report.markdown);
    let _ = std::fs::write(format!("{out}/timeline.svg"), timeline(&run.history()));
    if !report.held {
        std::process::exit(1);
    }
}

struct Report {
    markdown: String,
    held: bool,
}

fn in_window(faults: &[(String, f64, f64)], at: f64) -> bool {
    faults
        .iter()
        .any(|(_, b, e)| at >= *b && at <= e + GRACE.as_secs_f64() * 1000.0)
}

/// Stale reads: a read that began after version v was acknowledged and
/// returned an older one, by how long the value it returned had been
/// replaced (the acknowledgement of the version after it).
fn stale_lags(h: &History) -> Vec<(f64, f64)> {
    let mut lags = Vec::new();
    for (post, began, _, got) in &h.reads {
        let Some(acks) = h.acks.get(post) else {
            continue;
        };
        if let Some((_, replaced_at)) = acks.iter().find(|(v, at)| *v == got + 1 && *at <= *began) {
            lags.push((*began, began - replaced_at));
        }
    }
    lags
}

fn check(h: &History, final_titles: &HashMap<i64, u64>) -> Report {
    let lags = stale_lags(h);
    let bound = BOUND.as_secs_f64() * 1000.0;
    let bucket = |lo: f64, hi: f64| lags.iter().filter(|(_, l)| *l > lo && *l <= hi).count();
    let beyond = lags.iter().filter(|(_, l)| *l > bound).count();
    let (inside, outside): (Vec<_>, Vec<_>) = h
        .failures
        .iter()
        .partition(|(at, _, _)| in_window(&h.faults, *at));
    let server_errors_outside = outside.iter().filter(|(_, _, s)| *s >= 500).count();
    let lost: Vec<String> = h
        .acks
        .iter()
        .filter_map(|(post, acks)| {
            let last = acks.iter().map(|(v, _)| *v).max()?;
            let now = final_titles.get(post).copied().unwrap_or(0);
            (now < last).then(|| format!("post {post}: v{last} acknowledged, v{now} stored"))
        })
        .collect();
    // Recovery: from each fault's end to the first write acknowledged after it.
    let recoveries: Vec<String> = h
        .faults
        .iter()
        .map(|(kind, _, ended)| {
            let first = h
                .acks
                .values()
                .flatten()
                .map(|(_, at)| *at)
                .filter(|at| at >= ended)
                .fold(f64::INFINITY, f64::min);
            format!("{kind} {:.0} ms", first - ended)
        })
        .collect();
    let writes: usize = h.acks.values().map(Vec::len).sum();
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for (k, _, _) in &h.faults {
        *kinds.entry(k.as_str()).or_default() += 1;
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort();
    let held =
        beyond == 0 && h.ryw_violations.is_empty() && lost.is_empty() && server_errors_outside == 0;
    let mut md = String::new();
    md.push_str("| measure | value |\n|---|---:|\n");
    let kinds_text: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    for (name, value) in [
        ("faults", kinds_text.join(", ")),
        ("writes acknowledged", writes.to_string()),
        ("writes refused (503, nothing saved)", h.refused.to_string()),
        ("reads", h.reads.len().to_string()),
        (
            "failed requests inside fault windows (5xx or connection)",
            inside.len().to_string(),
        ),
        (
            "failed requests outside fault windows",
            outside.len().to_string(),
        ),
        (
            "5xx outside fault windows",
            server_errors_outside.to_string(),
        ),
        (
            "stale reads ≤ 250 ms behind (within the bound)",
            bucket(0.0, bound).to_string(),
        ),
        (
            "stale reads 250 ms – 1 s behind",
            bucket(bound, 1000.0).to_string(),
        ),
        (
            "stale reads > 1 s behind",
            bucket(1000.0, f64::INFINITY).to_string(),
        ),
        (
            "read-your-writes violations",
            h.ryw_violations.len().to_string(),
        ),
        ("lost acknowledged writes", lost.len().to_string()),
        (
            "recovery (fault end → next write acknowledged)",
            recoveries.join(", "),
        ),
    ] {
        md.push_str(&format!("| {name} | {value} |\n"));
    }
    let outside_lines: Vec<String> = outside
        .iter()
        .take(10)
        .map(|(at, what, status)| {
            let status = if *status == 0 {
                "connection failed".to_owned()
            } else {
                status.to_string()
            };
            format!(
                "outside a fault window: a {what} at {:.1} s: {status}",
                at / 1000.0
            )
        })
        .collect();
    for line in h
        .ryw_violations
        .iter()
        .chain(&lost)
        .take(20)
        .chain(&outside_lines)
    {
        md.push_str(&format!("\n- {line}"));
    }
    md.push_str(if held {
        "\n\nEvery guarantee held.\n"
    } else {
        "\n\nA GUARANTEE BROKE (stale beyond the bound, read-your-writes, lost writes or 5xx outside faults).\n"
    });
    Report { markdown: md, held }
}

/// The run as a picture: read latency (grey) and stale-read lag (red)
/// over time, each fault's window shaded and labelled.
fn timeline(h: &History) -> String {
    let end = h.reads.iter().map(|r| r.2).fold(1.0, f64::max);
    let (w, ht, left, top) = (1000.0, 360.0, 50.0, 20.0);
    let plot_h = ht - top - 40.0;
    let max_ms = 1000.0_f64;
    let x = |t: f64| left + (t / end) * (w - left - 10.0);
    let y = |ms: f64| top + plot_h - (ms.min(max_ms) / max_ms) * plot_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {ht}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"{w}\" height=\"{ht}\" fill=\"white\"/>\n"
    );
    for (kind, b, e) in &h.faults {
        let (x0, x1) = (x(*b), x(e + GRACE.as_secs_f64() * 1000.0).min(w - 10.0));
        svg.push_str(&format!(
            "<rect x=\"{x0:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{plot_h}\" fill=\"#f6d7a7\" opacity=\"0.6\"/>\
             <text x=\"{x0:.1}\" y=\"{:.1}\" transform=\"rotate(-90 {x0:.1} {:.1})\" fill=\"#8a5a00\">{kind}</text>\n",
            (x1 - x0).max(1.0),
            top + 60.0,
            top + 60.0
        ));
    }
    let step = (h.reads.len() / 4000).max(1);
    for (_, began, ended, _) in h.reads.iter().step_by(step) {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1\" fill=\"#999\"/>",
            x(*began),
            y(ended - began)
        ));
    }
    let lags = stale_lags(h);
    let step = (lags.len() / 2000).max(1);
    for (at, lag) in lags.into_iter().step_by(step) {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#c0392b\"/>",
            x(at),
            y(lag)
        ));
    }
    let bound_y = y(BOUND.as_secs_f64() * 1000.0);
    svg.push_str(&format!(
        "\n<line x1=\"{left}\" x2=\"{}\" y1=\"{bound_y:.1}\" y2=\"{bound_y:.1}\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>\
         <text x=\"{}\" y=\"{:.1}\" fill=\"#c0392b\">bound 250 ms</text>\n\
         <line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{}\" stroke=\"black\"/>\
         <line x1=\"{left}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"black\"/>\
         <text x=\"5\" y=\"{}\">1 s</text><text x=\"5\" y=\"{}\">0</text>\
         <text x=\"{}\" y=\"{}\">{:.0} s</text>\
         <text x=\"{left}\" y=\"{}\">grey: read latency · red: stale reads by lag · shaded: fault windows (+{} s)</text>\n</svg>\n",
        w - 10.0,
        w - 110.0,
        bound_y - 4.0,
        top + plot_h,
        w - 10.0,
        top + plot_h,
        top + plot_h,
        top + 10.0,
        top + plot_h,
        w - 40.0,
        top + plot_h + 15.0,
        end / 1000.0,
        ht - 8.0,
        GRACE.as_secs()
    ));
    svg
}
