//! The checker of the consistency suite (`scripts/chaos.sh` starts what it
//! drives and sets its environment): it puts a proxy between each blog
//! node and each service it uses, starts the nodes, and runs writers and
//! readers on the nodes' API, readers of the cached index page and a
//! commenter through nginx, and Socket.IO watchers in a post's room, while
//! it injects faults on a schedule ([`faults::KINDS`]). Then it checks the
//! history ([`report`]), prints the table, writes `report.md` and
//! `timeline.svg`, and says whether every guarantee held.
//!
//! Environment: `CHAOS_PORTS` (the nodes' ports), `CHAOS_FRONT` (nginx's
//! port), `CHAOS_DB_URL` (the database; psql reads the titles at the end),
//! `CHAOS_DURATION` (seconds), `CHAOS_FAULT_EVERY` (seconds between
//! faults), `CHAOS_FAULTS` (kinds, comma-separated), `CHAOS_NODES_DIR` and
//! `CHAOS_NODES_SCRIPT` (the nodes' files, and the script that starts the
//! ones not running), `CHAOS_REDIS_SEED` (a Redis Cluster port),
//! `CHAOS_CLUSTER_SCRIPT`, `CHAOS_PG_RESTART` (a command that restarts the
//! private PostgreSQL), `CHAOS_OUT`.

mod clients;
mod faults;
mod history;
mod http;
mod links;
mod report;
mod timeline;
mod watchers;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use history::{History, Via, Watcher};
use http::{Body, Http, send};
use links::NodeLinks;

/// The coherence bound the nodes run with (`cache.coherence_ms`).
pub(crate) const BOUND: Duration = Duration::from_millis(250);
/// After a fault ends, how long its effects may last (reconnections).
pub(crate) const GRACE: Duration = Duration::from_secs(5);
const POSTS: usize = 10;
const WRITERS: usize = 4;
const READERS: usize = 6;
const PAGE_READERS: usize = 2;
const WATCHERS: usize = 3;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// What the script hands over.
struct Settings {
    ports: Vec<u16>,
    front: u16,
    token: String,
    db_url: String,
    nodes_dir: String,
    nodes_script: String,
    redis_seed: u16,
    cluster_script: String,
    pg_restart: String,
}

/// A run: the clients' shared state.
struct Run {
    http: Http,
    settings: Settings,
    start: Instant,
    history: Mutex<History>,
    stop: tokio::sync::watch::Receiver<bool>,
    links: tokio::sync::Mutex<Vec<NodeLinks>>,
    /// The next client address the commenter sends.
    addresses: AtomicU64,
}

impl Run {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    fn url(&self, node: usize, path: &str) -> String {
        let ports = &self.settings.ports;
        format!("http://127.0.0.1:{}{path}", ports[node % ports.len()])
    }

    fn front(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.settings.front)
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    async fn stopping(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|s| *s).await;
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
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

/// Proxies for every node, their env files, then the nodes.
async fn start_nodes(nodes: usize, db_url: &str, redis_seed: u16) -> Vec<NodeLinks> {
    let redis: Vec<std::net::SocketAddr> = faults::redis_ports(redis_seed)
        .into_iter()
        .map(|p| std::net::SocketAddr::from(([127, 0, 0, 1], p)))
        .collect();
    assert!(!redis.is_empty(), "no Redis Cluster on port {redis_seed}");
    let pg = phial::testing::url_addr(db_url)
        .await
        .expect("CHAOS_DB_URL names a host and port");
    let dir = env("CHAOS_NODES_DIR", "/tmp/phial-chaos/nodes");
    std::fs::create_dir_all(&dir).expect("the nodes' folder");
    let mut all = Vec::new();
    for node in 1..=nodes {
        let (links, env_file) = NodeLinks::start(&redis, db_url, pg).await;
        std::fs::write(format!("{dir}/node{node}.env"), env_file).expect("a node's env file");
        all.push(links);
    }
    let script = env("CHAOS_NODES_SCRIPT", "scripts/blog-nodes.sh");
    assert!(
        faults::sh("bash", &[&script, "start"]),
        "the nodes did not start (their logs are in {dir})"
    );
    all
}

/// Runs the suite from the environment `scripts/chaos.sh` sets; exits
/// non-zero when a guarantee broke.
pub async fn main() {
    let ports: Vec<u16> = env("CHAOS_PORTS", "5101 5102 5103")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let duration = Duration::from_secs(env("CHAOS_DURATION", "150").parse().unwrap_or(150));
    let every = Duration::from_secs(env("CHAOS_FAULT_EVERY", "10").parse().unwrap_or(10));
    let kinds: Vec<String> = env("CHAOS_FAULTS", "")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    let kinds = if kinds.is_empty() {
        faults::KINDS.iter().map(|k| (*k).to_owned()).collect()
    } else {
        kinds
    };
    if let Some(unknown) = kinds.iter().find(|k| !faults::KINDS.contains(&k.as_str())) {
        eprintln!(
            "chaos: `{unknown}` is not a fault kind; use some of {}",
            faults::KINDS.join(", ")
        );
        std::process::exit(2);
    }
    let out = env("CHAOS_OUT", "/tmp/phial-chaos");
    let db_url = env("CHAOS_DB_URL", "");
    let redis_seed: u16 = env("CHAOS_REDIS_SEED", "7100").parse().unwrap_or(7100);
    let links = start_nodes(ports.len(), &db_url, redis_seed).await;
    let nodes_dir = env("CHAOS_NODES_DIR", "/tmp/phial-chaos/nodes");
    let token = std::fs::read_to_string(format!("{nodes_dir}/api_token"))
        .expect("the nodes' API token")
        .trim()
        .to_owned();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = Arc::new(Run {
        http: http::client(),
        settings: Settings {
            ports,
            front: env("CHAOS_FRONT", "8080").parse().unwrap_or(8080),
            token,
            db_url,
            nodes_dir,
            nodes_script: env("CHAOS_NODES_SCRIPT", "scripts/blog-nodes.sh"),
            redis_seed,
            cluster_script: env("CHAOS_CLUSTER_SCRIPT", "scripts/redis-cluster.sh"),
            pg_restart: env("CHAOS_PG_RESTART", ""),
        },
        start: Instant::now(),
        history: Mutex::new(History::default()),
        stop,
        links: tokio::sync::Mutex::new(links),
        addresses: AtomicU64::new(1),
    });

    // The rows: one author, POSTS published posts titled v0.
    let create = async |path: &str, row: Value| -> Value {
        let auth = [("authorization", format!("Bearer {}", run.settings.token))];
        let body = Body {
            json: Some(row),
            ..Body::default()
        };
        let res = send(&run.http, "POST", &run.url(0, path), &auth, body).await;
        assert_eq!(res.status, 201, "{path}: {}", res.body);
        serde_json::from_str(&res.body).expect("the created row")
    };
    let email = format!("chaos{}@example.com", std::process::id());
    let author = create("/api/authors", json!({"name": "Chaos", "email": email})).await;
    let mut posts = Vec::new();
    for _ in 0..POSTS {
        let row =
            json!({"author_id": author["id"], "title": "v0", "body": "chaos", "published": true});
        let post = create("/api/posts", row).await;
        posts.push(post["id"].as_i64().expect("an id"));
    }
    run.history().watchers = vec![Watcher::default(); WATCHERS];

    // Writers own disjoint posts (versions increase per post); the last
    // one writes through nginx and reads back with its cookie.
    let mut tasks = tokio::task::JoinSet::new();
    let writers = WRITERS + 1;
    for w in 0..writers {
        let mine: Vec<i64> = posts.iter().copied().skip(w).step_by(writers).collect();
        let via = if w == WRITERS { Via::Front } else { Via::Node };
        tasks.spawn(clients::writer(run.clone(), mine, via));
    }
    for _ in 0..READERS {
        tasks.spawn(clients::reader(run.clone(), posts.clone()));
    }
    for _ in 0..PAGE_READERS {
        tasks.spawn(clients::page_reader(run.clone()));
    }
    let watched = posts[0];
    for me in 0..WATCHERS {
        tasks.spawn(watchers::watcher(run.clone(), me, watched));
    }
    tasks.spawn(clients::commenter(run.clone(), watched));

    // The schedule: a quiet stretch, then one fault every `every`.
    let mut n = 0;
    let mut next = Instant::now() + every;
    while run.start.elapsed() + every < duration {
        tokio::time::sleep_until(next.into()).await;
        let kind = &kinds[n % kinds.len()];
        let began = run.now();
        println!("fault {kind} at {:.1} s", began / 1000.0);
        faults::inject(&run, kind, n).await;
        let ended = run.now();
        run.history().faults.push((kind.clone(), began, ended));
        n += 1;
        next = Instant::now() + every;
    }
    tokio::time::sleep(duration.saturating_sub(run.start.elapsed())).await;
    let end = run.now();
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}

    let final_titles = psql_titles(&run.settings.db_url);
    let report = report::check(&run.history(), &final_titles, end);
    println!("{}", report.markdown);
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(format!("{out}/report.md"), &report.markdown);
    let _ = std::fs::write(
        format!("{out}/timeline.svg"),
        timeline::timeline(&run.history()),
    );
    if !report.held {
        std::process::exit(1);
    }
}
