//! Who the client is, by address: the TCP peer, unless that peer is a
//! proxy listed in `server.trusted_proxies`, in which case the address the
//! proxy put in `Forwarded` or `X-Forwarded-For`. Sign-in throttling and
//! rate limits key on it, so a header sent by the client itself must never
//! count: it is believed only from a trusted peer, and only up to the
//! rightmost address no trusted proxy added.
//!
//! ```
//! use phial_core::ClientAddr;
//! async fn whoami(ClientAddr(ip): ClientAddr) -> String {
//!     ip.to_string()
//! }
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::HeaderMap;
use http::request::Parts;
use ipnet::IpNet;

/// The client's address (see the module docs). Requests served without a
/// socket (the in-process test client without
/// [`TestRequest::from_addr`](crate::testing::TestRequest::from_addr))
/// come from `127.0.0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

/// The parsed `server.trusted_proxies`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses the configured CIDRs (a bare address is a /32 or /128);
    /// each bad entry is returned with its index.
    pub(crate) fn parse(entries: &[String]) -> Result<Self, Vec<(usize, String)>> {
        let mut nets = Vec::new();
        let mut bad = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let entry = entry.trim();
            match entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
            {
                Ok(net) => nets.push(net),
                Err(_) => bad.push((
                    i,
                    format!("`{entry}` is not an address or a CIDR (`10.0.0.0/8`, `::1/128`)"),
                )),
            }
        }
        if bad.is_empty() {
            Ok(TrustedProxies(nets))
        } else {
            Err(bad)
        }
    }

    /// Whether `ip` is a trusted proxy (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The client's address for a request from `peer` with these headers.
///
/// From a trusted proxy, the hops it forwarded are read from the right
/// (the nearest proxy's entry last): trusted proxies are skipped, and the
/// first address that is not one is the client. Anything left of it was
/// written by the client and is ignored.
pub(crate) fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if trusted.is_empty() || !trusted.contains(peer) {
        if !trusted.contains(peer) && carries_forwarding(headers) {
            warn_untrusted(peer);
        }
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop else {
            // Garbage where an address should be: what is right of it
            // came from trusted proxies, what is left of it cannot be
            // believed.
            break;
        };
        client = canonical(*ip);
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

fn carries_forwarding(headers: &HeaderMap) -> bool {
    headers.contains_key("forwarded") || headers.contains_key("x-forwarded-for")
}

/// Every hop named in `Forwarded` (its `for=` values) or, without it,
/// `X-Forwarded-For`, left to right; `None` for one that is no address
/// (`unknown`, an obfuscated name).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(parse_node)
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = s.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    // `[v6]` without a port.
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|v6| v6.parse().ok())
}

/// One warning line per untrusted peer and hour: a header that names
/// another client was ignored (a proxy not listed in
/// `server.trusted_proxies`, or a client trying its luck).
fn warn_untrusted(peer: IpAddr) {
    static SEEN: Mutex<Vec<(IpAddr, Instant)>> = Mutex::new(Vec::new());
    const EVERY: Duration = Duration::from_secs(3600);
    let now = Instant::now();
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    seen.retain(|(_, at)| now.duration_since(*at) < EVERY);
    if seen.iter().any(|(ip, _)| *ip == peer) || seen.len() >= 64 {
        return;
    }
    seen.push((peer, now));
    metrics::counter!("phial_forwarded_untrusted_total").increment(1);
    tracing::warn!(
        %peer,
        "a request from {peer} carries X-Forwarded-For or Forwarded, which is ignored: \
         {peer} is not in server.trusted_proxies. If it is your proxy, list it there \
         (else every client behind it shares one address for sign-in throttling and rate limits)"
    );
}

impl ClientAddr {
    /// The client's address for a request, as the extractor gives it.
    pub fn of(parts: &Parts) -> ClientAddr {
        Self::from_extensions(&parts.extensions, &parts.headers)
    }

    /// Like [`of`](Self::of), from a request's extensions and headers.
    pub fn from_extensions(extensions: &http::Extensions, headers: &HeaderMap) -> ClientAddr {
        if let Some(known) = extensions.get::<ClientAddr>() {
            return *known;
        }
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let trusted = crate::session::RequestContext::any(extensions)
            .map(|s| s.app().0.trusted_proxies.clone())
            .unwrap_or_default();
        ClientAddr(resolve(peer, headers, &trusted))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let addr = Self::of(parts);
        parts.extensions.insert(addr);
        Ok(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(resolve(ip("203.0.113.9"), &h, &none), ip("203.0.113.9"));
        let lan = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        assert_eq!(resolve(ip("203.0.113.9"), &h, &lan), ip("203.0.113.9"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        // The client wrote 6.6.6.6 itself; nginx appended its real address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &proxies), ip("198.51.100.7"));
        // Two header lines read as one list.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(resolve(ip("10.9.9.9"), &h, &proxies), ip("198.51.100.7"));
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("127.0.0.1"), &HeaderMap::new(), &proxies),
            ip("127.0.0.1")
        );
        // Garbage right of the client's entry stops the walk at the proxy side.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, nonsense")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &proxies), ip("127.0.0.1"));
    }

    #[test]
    fn forwarded_wins_and_its_forms_parse() {
        let proxies = TrustedProxies::parse(&["::1/128".into()]).unwrap();
        let h = headers(&[
            (
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https"#,
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(resolve(ip("::1"), &h, &proxies), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=192.0.2.60:80;by=203.0.113.43")]);
        assert_eq!(resolve(ip("::1"), &h, &proxies), ip("192.0.2.60"));
    }

    #[test]
    fn mapped_addresses_match_their_ipv4_network_and_bad_entries_are_named() {
        let proxies = TrustedProxies::parse(&["127.0.0.0/8".into()]).unwrap();
        assert!(proxies.contains(ip("::ffff:127.0.0.1")));
        let bad = TrustedProxies::parse(&["10.0.0.0/8".into(), "proxy.local".into()]).unwrap_err();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 1);
        assert!(bad[0].1.contains("`proxy.local`"), "{}", bad[0].1);
    }
}
