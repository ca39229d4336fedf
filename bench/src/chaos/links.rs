//! Each node's own way to Redis and PostgreSQL: one TCP proxy per Redis
//! Cluster node and one to PostgreSQL, so the suite can cut one node off
//! (a partition) or slow its network while the others keep theirs. The
//! node finds them through `cache.address_map` / `socket.address_map`
//! (the addresses the cluster announces, mapped to this node's proxies)
//! and its database URL, written to `nodeN.env` for
//! `scripts/blog-nodes.sh`.

use std::net::SocketAddr;
use std::time::Duration;

use phial::testing::{TcpProxy, url_via};

/// One proxied link: where it listens, where it forwards, and the proxy
/// while the link is up.
struct Link {
    listen: SocketAddr,
    target: SocketAddr,
    proxy: Option<TcpProxy>,
}

impl Link {
    async fn start(target: SocketAddr) -> Link {
        let proxy = TcpProxy::start("127.0.0.1:0".parse().expect("an address"), target)
            .await
            .expect("a proxy starts");
        Link {
            listen: proxy.addr(),
            target,
            proxy: Some(proxy),
        }
    }

    async fn cut(&mut self) {
        if let Some(p) = self.proxy.take() {
            p.cut().await;
        }
    }

    async fn restore(&mut self) {
        if self.proxy.is_none() {
            // The port was ours a moment ago; retry while the OS frees it.
            for _ in 0..50 {
                if let Ok(p) = TcpProxy::start(self.listen, self.target).await {
                    self.proxy = Some(p);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            eprintln!("chaos: could not listen on {} again", self.listen);
        }
    }

    fn set_latency(&self, latency: Duration) {
        if let Some(p) = &self.proxy {
            p.set_latency(latency);
        }
    }
}

/// One node's links.
pub(crate) struct NodeLinks {
    redis: Vec<Link>,
    pg: Link,
}

/// What a link fault touches.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Service {
    Redis,
    Postgres,
}

impl NodeLinks {
    /// Proxies to every Redis node and to PostgreSQL; returns them and
    /// the lines of the node's env file.
    pub(crate) async fn start(
        redis: &[SocketAddr],
        db_url: &str,
        pg: SocketAddr,
    ) -> (NodeLinks, String) {
        let mut links = Vec::new();
        for target in redis {
            links.push(Link::start(*target).await);
        }
        let pg = Link::start(pg).await;
        let map: Vec<String> = links
            .iter()
            .map(|l| format!("\"{}\"=\"{}\"", l.target, l.listen))
            .collect();
        let map = format!("{{{}}}", map.join(","));
        let env = format!(
            "PHIAL_DATABASE__URL='{}'\nPHIAL_CACHE__ADDRESS_MAP='{map}'\nPHIAL_SOCKET__ADDRESS_MAP='{map}'\n",
            url_via(db_url, pg.listen)
        );
        (NodeLinks { redis: links, pg }, env)
    }

    fn links(&mut self, service: Service) -> Vec<&mut Link> {
        match service {
            Service::Redis => self.redis.iter_mut().collect(),
            Service::Postgres => vec![&mut self.pg],
        }
    }

    /// Cuts every connection of `service` and refuses new ones.
    pub(crate) async fn cut(&mut self, service: Service) {
        for link in self.links(service) {
            link.cut().await;
        }
    }

    /// Lets `service` be reached again.
    pub(crate) async fn restore(&mut self, service: Service) {
        for link in self.links(service) {
            link.restore().await;
        }
    }

    /// Delays everything to and from `service`.
    pub(crate) fn set_latency(&mut self, service: Service, latency: Duration) {
        for link in self.links(service) {
            link.set_latency(latency);
        }
    }
}
