//! The cache on the local Redis Cluster (`scripts/redis-cluster.sh`)
//! while the cluster changes under it: slots migrated between primaries
//! (MOVED/ASK), then a primary killed and its replica promoted. The tests
//! run one after the other and leave the cluster whole.

use std::process::Command;
use std::time::{Duration, Instant};

use phial_cache::Cache;
use phial_cache::redis::Redis;
use phial_core::testing::redis_cli as cli;

mod common;
use common::{all_present, cluster_seed, port_of};

fn script(arg: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/redis-cluster.sh");
    let out = Command::new("bash")
        .arg(path)
        .arg(arg)
        .output()
        .expect("the cluster script runs");
    assert!(
        out.status.success(),
        "redis-cluster.sh {arg}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Port of the primary that serves `slot`, from CLUSTER NODES.
fn primary_of_slot(seed: u16, slot: u16) -> Option<(u16, String)> {
    cli(seed, &["cluster", "nodes"]).lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if !f.get(2)?.contains("master") || f.get(2)?.contains("fail") {
            return None;
        }
        let in_range = |r: &&str| -> bool {
            match r.split_once('-') {
                Some((a, b)) => {
                    a.parse::<u16>().is_ok_and(|a| a <= slot)
                        && b.parse::<u16>().is_ok_and(|b| slot <= b)
                }
                None => r.parse::<u16>().ok() == Some(slot),
            }
        };
        if !f.get(8..)?.iter().any(in_range) {
            return None;
        }
        let port = f[1].split('@').next()?.rsplit_once(':')?.1.parse().ok()?;
        Some((port, f[0].to_owned()))
    })
}

async fn until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within {limit:?}");
}

#[tokio::test]
async fn the_cache_follows_slot_moves_and_survives_a_failover() {
    let Some(seed) = cluster_seed().await else {
        return;
    };
    let seed_port = port_of(&seed);
    let cache = Cache::new(
        Redis::cluster(std::slice::from_ref(&seed), Duration::from_millis(500)).unwrap(),
        format!("phial-ops:{}:", std::process::id()),
        None,
    );
    let n = 200;
    for i in 0..n {
        cache.set(&format!("k{i}"), &i, None).await;
    }
    assert!(all_present(&cache, n).await);

    // Move 500 slots from the primary of slot 0 to another primary; the
    // client follows the MOVED/ASK answers.
    let (from_port, from_id) = primary_of_slot(seed_port, 0).unwrap();
    // Any other primary (earlier runs may have moved slots around).
    let to_id = [16_000, 8_000, 3_000, 12_000]
        .into_iter()
        .filter_map(|slot| primary_of_slot(seed_port, slot))
        .map(|(_, id)| id)
        .find(|id| *id != from_id)
        .expect("another primary");
    let out = Command::new("redis-cli")
        .args([
            "--cluster",
            "reshard",
            &format!("127.0.0.1:{seed_port}"),
            "--cluster-from",
            &from_id,
            "--cluster-to",
            &to_id,
        ])
        .args(["--cluster-slots", "500", "--cluster-yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reshard: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        primary_of_slot(seed_port, 0).unwrap().1,
        from_id,
        "slot 0 moved"
    );
    assert!(
        all_present(&cache, n).await,
        "every key is found after the move"
    );

    // Kill the primary that lost the slots; its replica takes over.
    cli(from_port, &["shutdown", "nosave"]);
    let probe_port = if from_port == seed_port {
        seed_port + 1
    } else {
        seed_port
    };
    until(
        "a replica promoted and the cluster ok",
        Duration::from_secs(30),
        async || cli(probe_port, &["cluster", "info"]).contains("cluster_state:ok"),
    )
    .await;
    until(
        "every key readable again",
        Duration::from_secs(30),
        async || all_present(&cache, n).await,
    )
    .await;
    cache.set("after-failover", &1u32, None).await;
    assert_eq!(cache.get::<u32>("after-failover").await, Some(1));
    cache.clear().await;

    // Bring the killed node back (it rejoins as a replica).
    script("start");
}
