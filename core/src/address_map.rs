//! Addresses a service announces, mapped to the ones this node reaches it
//! at: node-redis's `nodeAddressMap`, ioredis's `natMap`. A Redis Cluster
//! tells its clients where its nodes are (`CLUSTER SLOTS`) in its own terms
//! — container addresses behind NAT, or loopback ports that a test puts a
//! proxy in front of — and a client must connect somewhere else. The cache
//! (`cache.address_map`) and the Socket.IO driver (`socket.address_map`)
//! read one of these; every connection they open, to a seed or to a node
//! the cluster announced, goes through it.
//!
//! ```
//! use phial_core::AddressMap;
//! let map: AddressMap = serde_json::from_str(r#"{"10.0.0.5:6379": "127.0.0.1:16379"}"#).unwrap();
//! assert!(map.check().is_ok());
//! assert_eq!(map.get("10.0.0.5", 6379), Some(("127.0.0.1".to_owned(), 16379)));
//! assert_eq!(map.get("10.0.0.6", 6379), None);
//! assert_eq!(map.url("redis://:pw@10.0.0.5:6379/0"), "redis://:pw@127.0.0.1:16379/0");
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// `"host:port" = "host:port"` pairs; empty maps nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AddressMap(BTreeMap<String, String>);

fn split(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.trim().rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host, port.parse().ok()?))
}

impl AddressMap {
    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `from` → `to` (both `host:port`).
    pub fn insert(&mut self, from: impl Into<String>, to: impl Into<String>) {
        self.0.insert(from.into(), to.into());
    }

    /// The first entry that is not `host:port` on either side, as the
    /// reason to give the user.
    pub fn check(&self) -> Result<(), String> {
        for (from, to) in &self.0 {
            for side in [from, to] {
                if split(side).is_none() {
                    return Err(format!(
                        "maps `{from}` to `{to}`: each side must be `host:port`, e.g. \"10.0.0.5:6379\" = \"127.0.0.1:16379\""
                    ));
                }
            }
        }
        Ok(())
    }

    /// Where to connect for `host:port`, when the map moves it.
    pub fn get(&self, host: &str, port: u16) -> Option<(String, u16)> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.0.iter().find_map(|(from, to)| {
            let (h, p) = split(from)?;
            if p != port || !h.eq_ignore_ascii_case(host) {
                return None;
            }
            split(to).map(|(h, p)| (h.to_owned(), p))
        })
    }

    /// `scheme://[user@]host:port/rest` with its host and port mapped (the
    /// URL unchanged when the map does not move it).
    pub fn url(&self, url: &str) -> String {
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        let (user, tail) = match rest.rsplit_once('@') {
            Some((u, t)) => (format!("{u}@"), t),
            None => (String::new(), rest),
        };
        let end = tail.find(['/', '?']).unwrap_or(tail.len());
        let Some((host, port)) = split(&tail[..end]) else {
            return url.to_owned();
        };
        match self.get(host, port) {
            Some((h, p)) if h.contains(':') => {
                format!("{scheme}://{user}[{h}]:{p}{}", &tail[end..])
            }
            Some((h, p)) => format!("{scheme}://{user}{h}:{p}{}", &tail[end..]),
            None => url.to_owned(),
        }
    }

    /// The socket addresses to connect to for `host:port`: the mapped
    /// address when there is one, else what the system resolver says.
    pub async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let (host, port) = self
            .get(host, port)
            .unwrap_or_else(|| (host.to_owned(), port));
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await?
            .collect();
        if found.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no address for {host}:{port}"),
            ));
        }
        Ok(found)
    }
}

/// The map as a Redis client's resolver
/// (`ClusterClientBuilder::async_dns_resolver`): every connection the
/// client opens — to a seed, or to a node the cluster announced — goes
/// where the map says.
#[cfg(feature = "redis")]
impl redis::io::AsyncDNSResolver for AddressMap {
    fn resolve<'a, 'b: 'a>(
        &'a self,
        host: &'b str,
        port: u16,
    ) -> redis::RedisFuture<'a, Box<dyn Iterator<Item = SocketAddr> + Send + 'a>> {
        Box::pin(async move {
            let found = AddressMap::resolve(self, host, port).await?;
            Ok(Box::new(found.into_iter()) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> AddressMap {
        let mut m = AddressMap::default();
        for (a, b) in pairs {
            m.insert(*a, *b);
        }
        m
    }

    #[test]
    fn maps_hosts_ports_and_urls_and_leaves_the_rest() {
        let m = map(&[
            ("127.0.0.1:7100", "127.0.0.1:41000"),
            ("[::1]:7101", "[::1]:41001"),
        ]);
        assert_eq!(m.get("127.0.0.1", 7100), Some(("127.0.0.1".into(), 41000)));
        assert_eq!(m.get("::1", 7101), Some(("::1".into(), 41001)));
        assert_eq!(m.get("127.0.0.1", 7101), None);
        assert_eq!(m.url("redis://127.0.0.1:7100"), "redis://127.0.0.1:41000");
        assert_eq!(
            m.url("redis://127.0.0.1:7100/2?protocol=resp3"),
            "redis://127.0.0.1:41000/2?protocol=resp3"
        );
        assert_eq!(m.url("redis://[::1]:7101"), "redis://[::1]:41001");
        assert_eq!(m.url("redis://127.0.0.1:7102"), "redis://127.0.0.1:7102");
        assert_eq!(m.url("not a url"), "not a url");
    }

    #[test]
    fn a_side_that_is_not_host_port_is_named() {
        assert!(map(&[("127.0.0.1:7100", "127.0.0.1:1")]).check().is_ok());
        let e = map(&[("127.0.0.1", "127.0.0.1:1")]).check().unwrap_err();
        assert!(e.contains("`127.0.0.1`") && e.contains("host:port"), "{e}");
        assert!(map(&[("a:1", "b:port")]).check().is_err());
    }

    #[tokio::test]
    async fn resolves_the_mapped_address() {
        let m = map(&[("redis-0.internal:6379", "127.0.0.1:16379")]);
        let got = m.resolve("redis-0.internal", 6379).await.unwrap();
        assert_eq!(got, vec!["127.0.0.1:16379".parse().unwrap()]);
        let plain = m.resolve("127.0.0.1", 6379).await.unwrap();
        assert_eq!(plain, vec!["127.0.0.1:6379".parse().unwrap()]);
    }
}
