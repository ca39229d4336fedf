//! Several nodes: two apps in one process sharing a Redis (or the local
//! Redis Cluster) through `socket.adapter`, each with its own Socket.IO
//! server. A broadcast on one reaches clients on the other, rooms
//! included; a Redis restart degrades to local delivery and recovers; a
//! burst arrives whole and in order.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use phial_core::routing::get;
use phial_core::testing::{service_url, tool};
use phial_core::{App, Config};
use phial_socket::socketioxide::handler::ConnectHandler;
use phial_socket::testing::SocketClient;
use phial_socket::{AckSender, Data, Socket, SocketIo, SocketRef};

/// The namespace's events, set up before the client is told it is
/// connected (a middleware: an event emitted at once is never missed).
async fn on_live(socket: SocketRef) -> Result<(), std::convert::Infallible> {
    socket.on(
        "join",
        async |s: SocketRef, Data(room): Data<String>, ack: AckSender| {
            s.join(room);
            let _ = ack.send("ok");
        },
    );
    socket.on("shout", async |s: SocketRef, Data(text): Data<String>| {
        let _ = s.broadcast().emit("shout", &text).await;
    });
    Ok(())
}

/// Emits `n` numbered `tick`s to room `r` (`/tick?room=r&n=5`).
async fn tick(
    io: SocketIo,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> String {
    let room = q.get("room").cloned().unwrap_or_default();
    let n: u32 = q.get("n").and_then(|n| n.parse().ok()).unwrap_or(1);
    for i in 0..n {
        let ns = io.of("/live").unwrap();
        ns.to(room.clone()).emit("tick", &i).await.unwrap();
    }
    "sent".into()
}

fn prefix() -> String {
    format!(
        "phial-socket-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn node(adapter: &str, url: &str, prefix: &str) -> App {
    App::builder(
        Config::testing()
            .set("socket.adapter", adapter)
            .set("socket.redis_url", url)
            .set("socket.channel_prefix", prefix)
            .set("socket.max_buffer_size", 10_000),
    )
    .route("/tick", get(tick))
    .register(Socket::new().ns("/live", (async |_s: SocketRef| {}).with(on_live)))
    .build()
    .await
    .unwrap()
}

async fn joined(app: &App, room: &str) -> SocketClient {
    let c = SocketClient::connect(&app.test_client(), "/live")
        .await
        .unwrap();
    let ok: String = c.emit_with_ack("join", room).await.unwrap();
    assert_eq!(ok, "ok");
    c
}

async fn across_two_nodes(adapter: &str, url: &str) {
    let prefix = prefix();
    let (one, two) = (
        node(adapter, url, &prefix).await,
        node(adapter, url, &prefix).await,
    );
    let on_one = joined(&one, "r").await;
    let on_two = joined(&two, "r").await;
    let elsewhere = joined(&two, "other").await;

    // From an HTTP handler on node one to the room, on both nodes.
    assert_eq!(
        one.test_client()
            .get("/tick?room=r&n=1")
            .send()
            .await
            .text(),
        "sent"
    );
    assert_eq!(on_one.recv_event("tick").await.unwrap().arg::<u32>(0), 0);
    assert_eq!(on_two.recv_event("tick").await.unwrap().arg::<u32>(0), 0);

    // From a socket on node two to everyone else, on both nodes.
    on_two.emit("shout", "hello from two").await.unwrap();
    let got = on_one.recv_event("shout").await.unwrap();
    assert_eq!(got.arg::<String>(0), "hello from two");
    // `recv`, not `recv_event`: a stray `tick` for room `r` would fail
    // here instead of being skipped.
    let first = elsewhere.recv().await.unwrap();
    assert_eq!(first.name, "shout", "{first:?}");
    assert_eq!(first.arg::<String>(0), "hello from two");

    // The room's message did not reach the client outside it: after a later
    // message that did, nothing else is queued.
    assert_eq!(elsewhere.try_recv().await, None);

    // A burst crosses whole and in order.
    let n = 2_000;
    let res = one
        .test_client()
        .get(&format!("/tick?room=r&n={n}"))
        .send()
        .await;
    assert_eq!(res.text(), "sent");
    for i in 0..n {
        let e = on_two.recv_event("tick").await.unwrap();
        assert_eq!(
            e.arg::<u32>(0),
            i,
            "{adapter}: tick {i} of {n} lost or out of order"
        );
    }
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test]
async fn a_broadcast_reaches_clients_on_every_node_through_redis() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    across_two_nodes("redis", &url).await;
}

#[tokio::test]
async fn a_broadcast_reaches_clients_on_every_node_through_redis_cluster() {
    let Some(seed) = service_url(
        "Redis Cluster",
        "PHIAL_TEST_REDIS_CLUSTER_URL",
        "redis://127.0.0.1:7100",
    )
    .await
    else {
        return;
    };
    across_two_nodes("redis-cluster", &seed).await;
}

/// Two nodes over `url`, a client of each in room `r`, a tick seen by both.
async fn pair(url: &str) -> (App, App, SocketClient, SocketClient) {
    let prefix = prefix();
    let (one, two) = (
        node("redis", url, &prefix).await,
        node("redis", url, &prefix).await,
    );
    let on_one = joined(&one, "r").await;
    let on_two = joined(&two, "r").await;
    one.test_client().get("/tick?room=r&n=1").send().await;
    on_two.recv_event("tick").await.unwrap();
    on_one.recv_event("tick").await.unwrap();
    (one, two, on_one, on_two)
}

/// Keeps sending from node one until node two's client hears it, within a
/// bound: the nodes found each other again.
async fn crosses_again(one: &App, on_two: &SocketClient, after: &str) {
    let http = one.test_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        http.get("/tick?room=r&n=1").send().await;
        match tokio::time::timeout(Duration::from_millis(300), on_two.recv_event("tick")).await {
            Ok(Ok(_)) => return,
            _ => assert!(
                Instant::now() < deadline,
                "broadcasts did not cross nodes again after {after}"
            ),
        }
    }
}

/// A redis-server of the test's own, on a free port, that the test can
/// stop and start again.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16) -> Option<OwnRedis> {
        let bin = tool("redis-server")?;
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        Some(OwnRedis {
            port,
            child: Some(child),
        })
    }

    async fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn redis_restarting_degrades_to_local_delivery_and_recovers() {
    let port = free_port();
    let Some(mut redis) = OwnRedis::start(port) else {
        return;
    };
    redis.wait_up().await;
    let url = format!("redis://127.0.0.1:{port}");
    let (one, two, on_one, on_two) = pair(&url).await;
    let http = one.test_client();

    redis.stop();
    // Redis is gone: node one's own clients are still served, at once.
    let start = Instant::now();
    assert_eq!(http.get("/tick?room=r&n=1").send().await.text(), "sent");
    on_one.recv_event("tick").await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "a broadcast with Redis down took {:?}",
        start.elapsed()
    );
    // And the readiness check says the socket adapter is degraded.
    let ready = http.get("/readyz").send().await;
    assert!(ready.text().contains("socket"), "{}", ready.text());

    // Redis comes back (empty: every subscription is gone with it).
    let mut redis = OwnRedis::start(port).unwrap();
    redis.wait_up().await;
    // Node two hears node one again once it has subscribed anew: keep
    // sending until a tick arrives, within a bound.
    crosses_again(&one, &on_two, "Redis restarted").await;
    // And the other way round.
    on_two.emit("shout", "back").await.unwrap();
    assert_eq!(
        on_one.recv_event("shout").await.unwrap().arg::<String>(0),
        "back"
    );
    one.shutdown().await;
    two.shutdown().await;
    redis.stop();
}

/// Redis going silent without closing anything (its host gone, its address
/// moved by a failover): the open connections carry nothing more and the
/// client library never notices. Local delivery must not wait on it, and
/// the nodes must find Redis again over new connections.
#[tokio::test]
async fn a_silent_redis_connection_is_replaced() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let target = phial_core::testing::url_addr(&url).await.unwrap();
    let proxy = phial_core::testing::TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let via = phial_core::testing::url_via(&url, proxy.addr());
    let (one, two, on_one, on_two) = pair(&via).await;
    let http = one.test_client();

    proxy.freeze();
    // This node's own clients are served without waiting on Redis for
    // more than one command's timeout, and then at once.
    for _ in 0..3 {
        let start = Instant::now();
        http.get("/tick?room=r&n=1").send().await;
        on_one.recv_event("tick").await.unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "a broadcast with Redis silent took {:?}",
            start.elapsed()
        );
    }
    // The frozen connections are replaced; broadcasts cross nodes again.
    crosses_again(&one, &on_two, "the connection went silent").await;
    one.shutdown().await;
    two.shutdown().await;
    proxy.cut().await;
}
