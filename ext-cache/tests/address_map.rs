//! `cache.address_map` on the local Redis Cluster: every connection — to
//! the seed and to each node the cluster announces in `CLUSTER SLOTS` —
//! goes where the map says. Through a proxy per node, the cache works;
//! with the proxies cut, it reaches nothing although the cluster is up
//! (a client that connected to an announced address directly would still
//! read), while a client without the map still reads everything.

use std::time::Duration;

use phial_cache::Cache;
use phial_cache::redis::Redis;
use phial_core::AddressMap;
use phial_core::testing::{TcpProxy, redis_cli};

mod common;
use common::{all_present, cluster_seed, port_of};

#[tokio::test]
async fn every_connection_to_the_cluster_goes_where_the_map_says() {
    let Some(seed) = cluster_seed().await else {
        return;
    };
    let seed_port = port_of(&seed);
    let mut map = AddressMap::default();
    let mut proxies = Vec::new();
    for line in redis_cli(seed_port, &["cluster", "nodes"]).lines() {
        let Some(addr) = line
            .split_whitespace()
            .nth(1)
            .and_then(|a| a.split('@').next())
        else {
            continue;
        };
        let target: std::net::SocketAddr = addr.parse().expect("an announced address");
        let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
            .await
            .unwrap();
        map.insert(addr, proxy.addr().to_string());
        proxies.push(proxy);
    }
    assert!(proxies.len() >= 3, "a cluster of several nodes");
    let prefix = format!("phial-map:{}:", std::process::id());
    let timeout = Duration::from_millis(300);
    let mapped = Cache::new(
        Redis::cluster_mapped(std::slice::from_ref(&seed), timeout, &map).unwrap(),
        prefix.clone(),
        None,
    );
    let direct = Cache::new(
        Redis::cluster(std::slice::from_ref(&seed), timeout).unwrap(),
        prefix,
        None,
    );
    // Keys on every primary's slots, written through the proxies.
    let n = 60;
    for i in 0..n {
        mapped.set(&format!("k{i}"), &i, None).await;
    }
    assert!(all_present(&mapped, n).await, "read through the proxies");
    assert!(
        all_present(&direct, n).await,
        "the writes reached the cluster"
    );

    for proxy in proxies {
        proxy.cut().await;
    }
    for i in 0..n {
        assert_eq!(
            mapped.get::<u32>(&format!("k{i}")).await,
            None,
            "k{i} was read around the cut proxies"
        );
    }
    // The control: the cluster is up and has them.
    assert!(all_present(&direct, n).await);
}
