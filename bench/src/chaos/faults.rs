//! The faults the suite injects, each undone before it returns: a Redis
//! primary killed or frozen, a node SIGTERMed or SIGKILLed (and started
//! again), PostgreSQL restarted, one node cut off from Redis or from
//! PostgreSQL, one node's network slowed, and a rolling restart of every
//! node (the deploy that live pages must survive).

use std::process::Command;
use std::time::Duration;

use super::Run;
use super::links::Service;

/// Every kind, in the order a schedule takes them.
pub(crate) const KINDS: &[&str] = &[
    "redis-kill",
    "redis-freeze",
    "node-term",
    "node-kill",
    "pg-restart",
    "redis-partition",
    "pg-partition",
    "slow-network",
    "rolling-restart",
];

/// How long a partition or a slow network lasts.
const CUT_FOR: Duration = Duration::from_secs(4);
/// The latency a slow network adds each way.
const SLOW_BY: Duration = Duration::from_millis(60);

pub(crate) fn sh(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The ports of the Redis Cluster's nodes (primaries and replicas).
pub(crate) fn redis_ports(seed: u16) -> Vec<u16> {
    let out = Command::new("redis-cli")
        .args(["-p", &seed.to_string(), "cluster", "nodes"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut ports: Vec<u16> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|a| a.split(['@', ':']).nth(1)?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports
}

fn redis_primary(seed: u16) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &seed.to_string(), "cluster", "nodes"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("master") && !l.contains("fail") && l.contains("connected"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|a| a.split(['@', ':']).nth(1).map(str::to_owned))
        .find(|p| *p != seed.to_string())
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

/// Stops node `node` (1-based) with `signal` and starts it again; returns
/// once it is ready.
async fn restart_node(run: &Run, node: usize, signal: &str) {
    if let Some(pid) = node_pid(&run.settings.nodes_dir, node) {
        sh("kill", &[signal, &pid]);
        wait_exit(&pid).await;
        sh("bash", &[&run.settings.nodes_script, "start"]);
    }
}

/// Injects fault `kind` (the `n`th of the schedule) and undoes it; returns
/// when the system was told to recover (the recovery itself is measured
/// from the history).
pub(crate) async fn inject(run: &Run, kind: &str, n: usize) {
    let seed = run.settings.redis_seed;
    let nodes = run.settings.ports.len();
    let node = 1 + n % nodes;
    match kind {
        "redis-kill" => {
            if let Some(port) = redis_primary(seed) {
                sh("redis-cli", &["-p", &port, "shutdown", "nosave"]);
                tokio::time::sleep(Duration::from_secs(4)).await;
                sh("bash", &[&run.settings.cluster_script, "start"]);
            }
        }
        "redis-freeze" => {
            if let Some(port) = redis_primary(seed) {
                sh("redis-cli", &["-p", &port, "debug", "sleep", "4"]);
            }
        }
        "node-term" => restart_node(run, node, "-TERM").await,
        "node-kill" => restart_node(run, node, "-KILL").await,
        "rolling-restart" => {
            for node in 1..=nodes {
                restart_node(run, node, "-TERM").await;
            }
        }
        "pg-restart" => {
            if !run.settings.pg_restart.is_empty() {
                sh("bash", &["-c", &run.settings.pg_restart]);
            }
        }
        "redis-partition" | "pg-partition" => {
            let service = if kind == "redis-partition" {
                Service::Redis
            } else {
                Service::Postgres
            };
            let mut links = run.links.lock().await;
            links[node - 1].cut(service).await;
            drop(links);
            tokio::time::sleep(CUT_FOR).await;
            run.links.lock().await[node - 1].restore(service).await;
        }
        "slow-network" => {
            for service in [Service::Redis, Service::Postgres] {
                run.links.lock().await[node - 1].set_latency(service, SLOW_BY);
            }
            tokio::time::sleep(CUT_FOR).await;
            for service in [Service::Redis, Service::Postgres] {
                run.links.lock().await[node - 1].set_latency(service, Duration::ZERO);
            }
        }
        other => eprintln!("chaos: unknown fault kind `{other}`"),
    }
}
