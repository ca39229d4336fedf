//! The official JavaScript client (socket.io-client from npm, run by node)
//! against the app on a real port, over each transport: auth refused and
//! accepted, a foreign origin refused, events with acks, rooms, an emit
//! from an HTTP handler. `scripts/node-tools.sh` installs the client.

use std::path::PathBuf;

use phial_core::testing::{node_modules, tool};
use serde_json::Value;

mod common;

#[tokio::test]
async fn the_official_client_over_polling_and_websocket() {
    let (Some(node), Some(modules)) = (tool("node"), node_modules("socket.io-client")) else {
        return;
    };
    let app = common::app().await;
    let http = app.test_client();
    assert_eq!(http.get("/login").send().await.status(), 200);
    let cookie = format!("session={}", http.cookie("session").expect("signed in"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.clone().serve_with(listener, async move {
        let _ = stopped.await;
    }));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js/client.js");
    for transport in ["polling", "websocket"] {
        let out = tokio::process::Command::new(&node)
            .arg(&script)
            .args([&base, transport, &cookie])
            .env("NODE_PATH", &modules)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "node failed ({transport}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{transport}: not JSON ({e}): {stdout}"));
        let field = |name: &str| seen[name].clone();
        let text = |name: &str| field(name).as_str().unwrap_or_default().to_owned();
        assert!(
            text("anonymous_private").contains("sign in"),
            "{transport}: {seen}"
        );
        assert_eq!(field("signed_in_private"), 7, "{transport}: {seen}");
        assert!(
            field("foreign_origin").is_string(),
            "{transport}: refused expected: {seen}"
        );
        assert_eq!(text("hello"), "welcome", "{transport}: {seen}");
        assert_eq!(text("engine_transport"), transport, "{transport}: {seen}");
        assert_eq!(field("ack"), 42, "{transport}: {seen}");
        assert_eq!(text("joined"), "news", "{transport}: {seen}");
        assert_eq!(text("headline"), "from a view", "{transport}: {seen}");
        assert_eq!(text("room"), "dinner is ready", "{transport}: {seen}");
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// axum's graceful shutdown neither waits for nor closes upgraded
/// connections, and a long poll holds its request open: a server with
/// clients connected must still stop promptly, telling them.
#[tokio::test]
async fn a_graceful_shutdown_closes_connected_clients() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let (Some(node), Some(modules)) = (tool("node"), node_modules("socket.io-client")) else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js/linger.js");
    for transport in ["websocket", "polling"] {
        let app = common::app().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.clone().serve_with(listener, async move {
            let _ = stopped.await;
        }));
        let mut child = tokio::process::Command::new(&node)
            .arg(&script)
            .args([&base, transport])
            .env("NODE_PATH", &modules)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some("connected")
        );
        let _ = stop.send(());
        let started = std::time::Instant::now();
        // The shutdown timeout is 30 s: finishing well before it shows the
        // connection was closed, not waited for.
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .unwrap_or_else(|_| {
                panic!("{transport}: the server did not stop with a client connected")
            })
            .unwrap()
            .unwrap();
        let said = lines.next_line().await.unwrap().unwrap_or_default();
        assert!(said.starts_with("disconnect"), "{transport}: {said}");
        eprintln!(
            "{transport}: stopped in {:?}; client saw `{said}`",
            started.elapsed()
        );
    }
}
