//! Helpers for tests that need a real service (PostgreSQL, MariaDB, Redis…).
//!
//! A test asks for a service by URL; when nothing listens there it prints a
//! loud `SKIPPED` line and gets `None` — unless `PHIAL_REQUIRE_SERVICES=1`
//! (CI), where a missing service fails the test.
//!
//! ```no_run
//! use phial_core::testing::service_url;
//! # async fn doc() {
//! let Some(url) = service_url("PostgreSQL", "PHIAL_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test").await else {
//!     return;
//! };
//! # }
//! ```

use std::time::Duration;

/// Whether CI demands every service (`PHIAL_REQUIRE_SERVICES=1`).
pub fn services_required() -> bool {
    std::env::var("PHIAL_REQUIRE_SERVICES")
        .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The host and port of a URL such as `postgres://user:pw@host:5432/db`.
fn host_port(url: &str, default_port: u16) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None => Some((hostport.to_owned(), default_port)),
    }
}

fn default_port(url: &str) -> u16 {
    match url.split("://").next().unwrap_or("") {
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        "redis" | "rediss" => 6379,
        _ => 80,
    }
}

/// The service's URL (from `env_var` when set, else `default`) if something
/// accepts connections there within two seconds. Otherwise prints
/// `SKIPPED` and returns `None`, or panics when services are required.
pub async fn service_url(name: &str, env_var: &str, default: &str) -> Option<String> {
    let url = std::env::var(env_var).unwrap_or_else(|_| default.to_owned());
    let reachable = match host_port(&url, default_port(&url)) {
        Some((host, port)) => {
            let connect = tokio::net::TcpStream::connect((host.as_str(), port));
            matches!(
                tokio::time::timeout(Duration::from_secs(2), connect).await,
                Ok(Ok(_))
            )
        }
        None => false,
    };
    if reachable {
        return Some(url);
    }
    let message = format!(
        "{name} is not reachable at {} (set {env_var} to point elsewhere)",
        crate::config::redact_url(&url)
    );
    if services_required() {
        panic!("PHIAL_REQUIRE_SERVICES=1 and {message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    None
}

/// The PostgreSQL server tests use (`PHIAL_TEST_POSTGRES_URL`, else the
/// machine's `postgres://postgres@127.0.0.1:5432/test`), as
/// [`service_url`] finds it.
pub async fn postgres_url() -> Option<String> {
    service_url(
        "PostgreSQL",
        "PHIAL_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
    .await
}

/// The local Redis Cluster's seed URL (`PHIAL_TEST_REDIS_CLUSTER_URL`, else
/// `redis://127.0.0.1:7100`, where `scripts/redis-cluster.sh` starts it)
/// and its port, as [`service_url`] finds it.
pub async fn redis_cluster_seed() -> Option<(String, u16)> {
    let url = service_url(
        "Redis Cluster",
        "PHIAL_TEST_REDIS_CLUSTER_URL",
        "redis://127.0.0.1:7100",
    )
    .await?;
    let (_, port) = host_port(&url, 6379)?;
    Some((url, port))
}

/// Where `scripts/node-tools.sh` installed the npm packages tests run with
/// node (`PHIAL_NODE_TOOLS`, default `~/.cache/phial-node`), when `package`
/// is among them. Otherwise prints `SKIPPED` and returns `None`, or panics
/// when services are required.
pub fn node_modules(package: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("PHIAL_NODE_TOOLS")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/phial-node"))
        })?
        .join("node_modules");
    if dir.join(package).is_dir() {
        return Some(dir);
    }
    skip_or_fail(format!(
        "{package} is not installed (run scripts/node-tools.sh)"
    ))
}

/// A tool a test needs is missing: `SKIPPED` loudly, or a panic when
/// services are required.
fn skip_or_fail<T>(message: String) -> Option<T> {
    if services_required() {
        panic!("PHIAL_REQUIRE_SERVICES=1 and {message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    None
}

/// The value of one series on a Prometheus page (`/metrics`): `series` is
/// the name with its labels as the exporter writes them (sorted by key),
/// e.g. `phial_http_requests_total{method="GET",route="/",status="200"}`.
///
/// ```
/// let page = "# TYPE up gauge\nup{job=\"a\"} 1\n";
/// assert_eq!(phial_core::testing::metric(page, r#"up{job="a"}"#), Some(1.0));
/// assert_eq!(phial_core::testing::metric(page, "up"), None);
/// ```
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Runs `redis-cli -p PORT ARGS…` on loopback and returns what it printed,
/// for tests that act on a Redis (Cluster) node from outside: kill a
/// primary, read `CLUSTER INFO`, flush a key.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli runs (Debian's redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An external program a test drives (a fuzzer, a validator): `name` from
/// the virtualenv `scripts/python-tools.sh` fills (`PHIAL_VENV`, default
/// `~/.cache/phial-venv`), else from `PATH`. When missing it prints
/// `SKIPPED` and returns `None`, or panics when services are required.
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let venv = std::env::var_os("PHIAL_VENV")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/phial-venv"))
        });
    let in_venv = venv
        .map(|v| v.join("bin").join(name))
        .filter(|p| p.is_file());
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    };
    if let Some(found) = in_venv.or_else(on_path) {
        return Some(found);
    }
    skip_or_fail(format!(
        "`{name}` is not installed (scripts/python-tools.sh, node-tools.sh, nginx-tools.sh and browser-tools.sh install what the tests use)"
    ))
}

/// The SQL databases a database test runs against: SQLite (always; `None`
/// means the app's default file) and then PostgreSQL and MariaDB/MySQL
/// when reachable (`PHIAL_TEST_POSTGRES_URL`, `PHIAL_TEST_MYSQL_URL`, else
/// the machine's loopback defaults).
pub async fn sql_databases() -> Vec<(&'static str, Option<String>)> {
    let mut out = vec![("SQLite", None)];
    for (name, var, default) in [
        (
            "PostgreSQL",
            "PHIAL_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        (
            "MariaDB",
            "PHIAL_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/test",
        ),
    ] {
        if let Some(url) = service_url(name, var, default).await {
            out.push((name, Some(url)));
        }
    }
    out
}

/// A TCP proxy for outage tests: forwards connections from a local port to
/// a service until [`cut`](TcpProxy::cut), which drops every connection and
/// stops listening; starting another on the same port restores it.
/// [`freeze`](TcpProxy::freeze) is the quieter failure: the connections open
/// now stay open but carry nothing more, ever (a host gone without closing
/// anything, an address moved by a failover), while new ones work.
/// [`set_latency`](TcpProxy::set_latency) is a slow network: every chunk,
/// either way, arrives that much later (pipelined, as on a long link).
pub struct TcpProxy {
    tasks: tokio::task::JoinSet<()>,
    addr: std::net::SocketAddr,
    generation: tokio::sync::watch::Sender<u64>,
    latency: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Forwards `from` to `to`, each chunk `latency` (µs) after it was read.
/// Borrows the halves: a frozen connection drops this future and must
/// keep its sockets open.
async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    latency: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            let delay = latency.load(std::sync::atomic::Ordering::Relaxed);
            let due = tokio::time::Instant::now() + std::time::Duration::from_micros(delay);
            if tx.send((due, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let write = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

impl TcpProxy {
    /// Listens on `listen` (port 0 picks one) and forwards to `target`.
    pub async fn start(
        listen: std::net::SocketAddr,
        target: std::net::SocketAddr,
    ) -> std::io::Result<TcpProxy> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (generation, watch) = tokio::sync::watch::channel(0u64);
        let latency = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        let delay = latency.clone();
        tasks.spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let mut watch = watch.clone();
                let born = *watch.borrow_and_update();
                let delay = delay.clone();
                conns.spawn(async move {
                    if let Ok(outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                        let (mut in_read, mut in_write) = inbound.into_split();
                        let (mut out_read, mut out_write) = outbound.into_split();
                        let both = async {
                            tokio::join!(
                                pump(&mut in_read, &mut out_write, delay.clone()),
                                pump(&mut out_read, &mut in_write, delay)
                            )
                        };
                        tokio::select! {
                            _ = both => {}
                            _ = async { let _ = watch.wait_for(|g| *g > born).await; } => {
                                // Frozen: hold both ends open, silent.
                                std::future::pending::<()>().await;
                            }
                        }
                    }
                });
            }
        });
        Ok(TcpProxy {
            tasks,
            addr,
            generation,
            latency,
        })
    }

    /// Delays every chunk, either way, by `latency` from now on (zero: a
    /// plain proxy again).
    pub fn set_latency(&self, latency: std::time::Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency
            .store(micros, std::sync::atomic::Ordering::Relaxed);
    }

    /// Freezes the connections open now: they stay open and carry nothing
    /// more; connections made later work.
    pub fn freeze(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// The address clients connect to.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Cuts every connection and stops listening.
    pub async fn cut(mut self) {
        self.tasks.shutdown().await;
    }
}

/// The first socket address of a `scheme://[user@]host:port/...` URL.
pub async fn url_addr(url: &str) -> Option<std::net::SocketAddr> {
    let (host, port) = host_port(url, default_port(url))?;
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .ok()?
        .next()
}

/// `url` with its host and port replaced by `addr` (to go through a proxy).
pub fn url_via(url: &str, addr: std::net::SocketAddr) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (user, tail) = rest.rsplit_once('@').map_or(("", rest), |(u, t)| (u, t));
    let path = tail.find(['/', '?']).map_or("", |i| &tail[i..]);
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    format!("{scheme}://{at}{addr}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slow link delays each way; back to zero, the same connection
    /// carries on; frozen, it stays open and silent.
    #[tokio::test]
    async fn the_proxy_delays_and_freezes_what_it_carries() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        let _ = s.write_all(&buf[..n]).await;
                    }
                });
            }
        });
        let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
            .await
            .unwrap();
        let mut conn = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
        let round_trip = async |conn: &mut tokio::net::TcpStream| {
            let began = std::time::Instant::now();
            conn.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            began.elapsed()
        };
        round_trip(&mut conn).await;
        proxy.set_latency(std::time::Duration::from_millis(100));
        let slow = round_trip(&mut conn).await;
        assert!(slow >= std::time::Duration::from_millis(200), "{slow:?}");
        proxy.set_latency(std::time::Duration::ZERO);
        round_trip(&mut conn).await;
        proxy.freeze();
        conn.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        let silent =
            tokio::time::timeout(std::time::Duration::from_millis(300), conn.read(&mut buf)).await;
        assert!(silent.is_err(), "a frozen connection carried {silent:?}");
        let mut fresh = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut fresh).await;
    }

    #[test]
    fn parses_hosts_and_ports() {
        assert_eq!(
            host_port("postgres://u:p@db:6543/x", 5432),
            Some(("db".into(), 6543))
        );
        assert_eq!(
            host_port("mysql://root@127.0.0.1/test", 3306),
            Some(("127.0.0.1".into(), 3306))
        );
        assert_eq!(
            host_port("redis://127.0.0.1:7000", 6379),
            Some(("127.0.0.1".into(), 7000))
        );
        assert_eq!(host_port("nonsense", 1), None);
        let addr: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            url_via("postgres://u:p@db:5432/app?x=1", addr),
            "postgres://u:p@127.0.0.1:9/app?x=1"
        );
        assert_eq!(
            url_via("redis://127.0.0.1:6379", addr),
            "redis://127.0.0.1:9"
        );
    }
}
