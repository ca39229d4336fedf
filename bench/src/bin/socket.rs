//! Socket.IO broadcast fan-out: Phial's `Socket` extension against plain
//! socketioxide on axum, and Phial across two nodes through Redis against
//! one node. `scripts/bench-socket.sh` runs the rounds and prints the table.
//!
//! ```text
//! socket serve plain|phial PORT [REDIS_URL]   # a server; /blast?n=M broadcasts M messages
//! socket drive CLIENTS MESSAGES URL [URL...]  # clients spread over the URLs, blast from the first
//!                                             # (GAP_US=5000: one message every 5 ms, for latency)
//! ```
//!
//! Each message carries the server's send time (ns since the epoch); the
//! clients (WebSocket, Engine.IO 4 / Socket.IO 5 spoken directly, so the
//! client side costs little) record when it arrived. `drive` prints one
//! line: `deliveries/s p50_us p99_us`.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark prints its figures"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const NS: &str = "/bench";

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[derive(serde::Deserialize)]
struct Blast {
    n: u32,
    /// Microseconds between messages: paced, to measure latency rather
    /// than queueing.
    #[serde(default)]
    gap_us: u64,
}

async fn pause(b: &Blast) {
    if b.gap_us > 0 {
        tokio::time::sleep(Duration::from_micros(b.gap_us)).await;
    }
}

/// Plain socketioxide: what a user would write without Phial.
async fn serve_plain(port: u16) {
    use socketioxide::SocketIo;
    use socketioxide::extract::SocketRef;
    let (layer, io) = SocketIo::builder().max_buffer_size(1_000_000).build_layer();
    io.ns(NS, async |_s: SocketRef| {});
    let app = axum::Router::new()
        .route(
            "/blast",
            axum::routing::get(
                move |axum::extract::Query(b): axum::extract::Query<Blast>| {
                    let io = io.clone();
                    async move {
                        for i in 0..b.n {
                            let ns = io.of(NS).unwrap();
                            let _ = ns.emit("tick", &(i, now_ns())).await;
                            pause(&b).await;
                        }
                        "sent"
                    }
                },
            ),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    axum::serve(listener, app).await.unwrap();
}

/// The same through Phial's extension (its defaults otherwise).
async fn serve_phial(port: u16, redis: Option<String>) {
    use phial::prelude::*;
    use phial::socket::{Socket, SocketIo, SocketRef};
    let mut config = Config::testing()
        .set("socket.max_buffer_size", 1_000_000)
        .set("socket.channel_prefix", "phial-bench");
    if let Some(url) = redis {
        config = config
            .set("socket.adapter", "redis")
            .set("socket.redis_url", url);
    }
    let app = App::builder(config)
        .route(
            "/blast",
            get(|io: SocketIo, Query(b): Query<Blast>| async move {
                for i in 0..b.n {
                    let ns = io.of(NS).unwrap();
                    let _ = ns.emit("tick", &(i, now_ns())).await;
                    pause(&b).await;
                }
                "sent"
            }),
        )
        .register(Socket::new().ns(NS, async |_s: SocketRef| {}))
        .build()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    app.serve_with(listener, std::future::pending())
        .await
        .unwrap();
}

/// One client: connects over WebSocket to `/bench`, answers pings, and
/// records each tick's latency until it has `expect` of them.
async fn client(
    url: String,
    expect: u32,
    latencies: Arc<std::sync::Mutex<Vec<u64>>>,
    ready: Arc<AtomicU64>,
) {
    let ws = url.replacen("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket";
    let (mut socket, _) = tokio_tungstenite::connect_async(ws)
        .await
        .expect("connects");
    // Engine.IO open, then the namespace's connect.
    let _open = socket.next().await;
    socket
        .send(Message::text(format!("40{NS},")))
        .await
        .unwrap();
    let mut mine = Vec::with_capacity(expect as usize);
    let mut got = 0;
    while let Some(Ok(msg)) = socket.next().await {
        let Message::Text(text) = msg else { continue };
        let text = text.as_str();
        if text == "2" {
            socket.send(Message::text("3")).await.unwrap();
        } else if text.starts_with("40/") {
            ready.fetch_add(1, Ordering::Relaxed);
        } else if let Some(body) = text.strip_prefix(&format!("42{NS},")) {
            let arrived = now_ns();
            // A tuple is sent as arguments: ["tick", i, sent_ns].
            let (_, _, sent): (String, u32, u64) = serde_json::from_str(body).unwrap();
            mine.push(arrived.saturating_sub(sent));
            got += 1;
            if got == expect {
                break;
            }
        }
    }
    latencies.lock().unwrap().extend(mine);
    let _ = socket.close(None).await;
}

async fn drive(clients: usize, messages: u32, gap_us: u64, urls: Vec<String>) {
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ready = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..clients {
        let url = urls[i % urls.len()].clone();
        tasks.push(tokio::spawn(client(
            url,
            messages,
            latencies.clone(),
            ready.clone(),
        )));
        if i % 50 == 49 {
            tokio::task::yield_now().await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready.load(Ordering::Relaxed) < clients as u64 {
        assert!(Instant::now() < deadline, "clients did not all connect");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start = Instant::now();
    let blast = format!("{}/blast?n={messages}&gap_us={gap_us}", urls[0]);
    let (host, path) = blast.trim_start_matches("http://").split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    use tokio::io::AsyncWriteExt;
    stream
        .write_all(
            format!("GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut l = latencies.lock().unwrap().clone();
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
            / 1000
    };
    let deliveries = (clients as f64 * messages as f64) / elapsed;
    println!("{deliveries:.0} {} {}", pct(0.5), pct(0.99));
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => {
            let port: u16 = args[3].parse().unwrap();
            match args[2].as_str() {
                "plain" => serve_plain(port).await,
                _ => serve_phial(port, args.get(4).cloned()).await,
            }
        }
        Some("drive") => {
            let clients = args[2].parse().unwrap();
            let messages = args[3].parse().unwrap();
            let gap_us = std::env::var("GAP_US")
                .ok()
                .and_then(|g| g.parse().ok())
                .unwrap_or(0);
            drive(clients, messages, gap_us, args[4..].to_vec()).await;
        }
        _ => eprintln!(
            "usage: socket serve plain|phial PORT [REDIS_URL] | socket drive CLIENTS MESSAGES URL..."
        ),
    }
}
