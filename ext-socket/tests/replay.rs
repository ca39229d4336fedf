//! The room log (`RoomLog`): a client that was away gets, when it joins
//! again with its last offset, what the room was sent meanwhile — on one
//! node (the log in memory), and across two nodes sharing a Redis or the
//! local Redis Cluster (the log in Redis: the event sent on one node, the
//! client back on the other). A first join replays nothing; an offset
//! that is not one says the replay is incomplete. A node that drains
//! still sends what it emits to the other nodes' clients.

use phial_core::routing::get;
use phial_core::testing::service_url;
use phial_core::{App, Config};
use phial_socket::socketioxide::handler::ConnectHandler;
use phial_socket::testing::SocketClient;
use phial_socket::{AckSender, App as SocketApp, Data, RoomLog, Socket, SocketIo, SocketRef};
use serde_json::{Value, json};

#[derive(serde::Deserialize)]
struct Join {
    room: String,
    since: Option<String>,
}

async fn on_live(socket: SocketRef) -> Result<(), std::convert::Infallible> {
    socket.on(
        "join",
        async |s: SocketRef, SocketApp(app): SocketApp, Data(j): Data<Join>, ack: AckSender| {
            let log = RoomLog::from_state(&app).expect("the log");
            let replay = log.join(&s, "/live", &j.room, j.since.as_deref()).await;
            let _ = ack.send(&json!({"sent": replay.sent, "complete": replay.complete}));
        },
    );
    Ok(())
}

/// `/say?room=r&text=x`: logs and sends `said` to the room.
async fn say(
    io: SocketIo,
    log: RoomLog,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> String {
    log.emit(&io, "/live", &q["room"], "said", &q["text"])
        .await
        .unwrap_or_else(|| "not logged".into())
}

async fn node(config: Config) -> App {
    App::builder(config)
        .route("/say", get(say))
        .register(Socket::new().ns("/live", (async |_s: SocketRef| {}).with(on_live)))
        .build()
        .await
        .unwrap()
}

async fn join(app: &App, room: &str, since: Option<&str>) -> (SocketClient, Value) {
    let c = SocketClient::connect(&app.test_client(), "/live")
        .await
        .unwrap();
    let answer: Value = c
        .emit_with_ack("join", &json!({"room": room, "since": since}))
        .await
        .unwrap();
    (c, answer)
}

/// Everything queued, as (text, offset).
async fn queued(c: &SocketClient) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(e) = c.try_recv().await {
        assert_eq!(e.name, "said", "{e:?}");
        out.push((e.arg::<String>(0), e.arg::<String>(1)));
    }
    out
}

async fn sent(app: &App, room: &str, text: &str) -> String {
    let offset = app
        .test_client()
        .get(&format!("/say?room={room}&text={text}"))
        .send()
        .await
        .text();
    assert!(offset.contains('-'), "an offset: {offset}");
    offset
}

/// `one` sends, the client follows on `two`, leaves, comes back.
async fn comes_back(one: &App, two: &App) {
    let (first, answer) = join(two, "r", None).await;
    assert_eq!(answer, json!({"sent": 0, "complete": true}), "a first join");
    let a = sent(one, "r", "a").await;
    let got = first.recv_event("said").await.unwrap();
    assert_eq!(
        (got.arg::<String>(0), got.arg::<String>(1)),
        ("a".to_owned(), a.clone()),
        "live, with its offset as the last argument"
    );
    first.disconnect().await;

    // Away: two events, and one to another room.
    sent(one, "r", "b").await;
    sent(one, "other", "x").await;
    sent(one, "r", "c").await;

    // Back with its last offset: what it missed, in order (the replay
    // starts a little before the offset; the client drops what it has).
    let (back, answer) = join(two, "r", Some(&a)).await;
    assert_eq!(answer["complete"], json!(true), "{answer}");
    let missed: Vec<String> = queued(&back)
        .await
        .into_iter()
        .filter(|(_, offset)| *offset != a)
        .map(|(text, _)| text)
        .collect();
    assert_eq!(missed, ["b", "c"]);

    // The control: a newcomer gets nothing replayed, and later events live.
    let (newcomer, _) = join(two, "r", None).await;
    assert!(queued(&newcomer).await.is_empty());
    sent(one, "r", "d").await;
    assert_eq!(
        newcomer.recv_event("said").await.unwrap().arg::<String>(0),
        "d"
    );
    // An offset that is not one: joined, but told the replay is incomplete.
    let (_lost, answer) = join(two, "r", Some("yesterday")).await;
    assert_eq!(answer, json!({"sent": 0, "complete": false}));
    // An offset older than the window: nothing is read or sent (a client
    // cannot have the room's whole log sent to it), and it is told so.
    let (ancient, answer) = join(two, "r", Some("0-0")).await;
    assert_eq!(answer, json!({"sent": 0, "complete": false}));
    assert!(queued(&ancient).await.is_empty());
}

#[tokio::test]
async fn a_client_back_on_one_node_gets_what_it_missed() {
    let app = node(Config::testing()).await;
    comes_back(&app, &app).await;
    app.shutdown().await;
}

fn shared(adapter: &str, url: &str, prefix: &str) -> Config {
    Config::testing()
        .set("socket.adapter", adapter)
        .set("socket.redis_url", url)
        .set("socket.channel_prefix", prefix)
}

async fn across_nodes(adapter: &str, url: &str) {
    let prefix = format!("phial-replay-{}-{adapter}", std::process::id());
    let one = node(shared(adapter, url, &prefix)).await;
    let two = node(shared(adapter, url, &prefix)).await;
    comes_back(&one, &two).await;

    // Node one shuts down: its sockets are closed (their clients go
    // elsewhere), but what it emits while it drains — a write it is
    // finishing — still reaches node two's clients, and is logged.
    let (follower, _) = join(&two, "drain", None).await;
    one.drain().await;
    let offset = sent(&one, "drain", "while-draining").await;
    let got = follower.recv_event("said").await.unwrap();
    assert_eq!(
        (got.arg::<String>(0), got.arg::<String>(1)),
        ("while-draining".to_owned(), offset)
    );
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test]
async fn a_client_back_on_another_node_gets_what_it_missed_through_redis() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    across_nodes("redis", &url).await;
}

#[tokio::test]
async fn a_client_back_on_another_node_gets_what_it_missed_through_redis_cluster() {
    let Some(seed) = service_url(
        "Redis Cluster",
        "PHIAL_TEST_REDIS_CLUSTER_URL",
        "redis://127.0.0.1:7100",
    )
    .await
    else {
        return;
    };
    across_nodes("redis-cluster", &seed).await;
}
