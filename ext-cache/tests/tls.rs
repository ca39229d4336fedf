//! Managed Redis speaks TLS (`rediss://`): the cache reaches a local
//! `redis-server` started with a self-signed certificate.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use phial_cache::Cache;
use phial_cache::redis::Redis;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn skip(why: &str) {
    assert!(
        !phial_core::testing::services_required(),
        "a TLS Redis is required (PHIAL_REQUIRE_SERVICES=1): {why}"
    );
    eprintln!("SKIPPED: TLS Redis test: {why}");
}

/// Starts `redis-server` with TLS only, on a free port; `None` when the
/// tools are missing.
fn tls_redis(dir: &std::path::Path) -> Option<(Server, u16)> {
    let (cert, key) = (dir.join("redis.crt"), dir.join("redis.key"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !made.success() {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .args([
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some((Server(child), port))
}

#[tokio::test]
async fn the_cache_reaches_redis_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_server, port)) = tls_redis(dir.path()) else {
        return skip("openssl or a TLS-enabled redis-server is not installed");
    };
    // `#insecure`: the certificate is self-signed for this test.
    let url = format!("rediss://127.0.0.1:{port}/#insecure");
    let cache = Cache::new(
        Redis::new(&url, Duration::from_millis(500)).unwrap(),
        "tls-test:",
        None,
    );
    // The server takes a moment to listen: wait for a write to land,
    // bounded, then read it back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cache.ping().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the TLS Redis never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let errors = cache.stats().errors;
    cache.set("greeting", &"hello over TLS", None).await;
    assert_eq!(
        cache.get::<String>("greeting").await.as_deref(),
        Some("hello over TLS")
    );
    assert_eq!(
        cache.stats().errors,
        errors,
        "no failed call once connected"
    );
}
