//! The app the one-node tests drive, in-process (`local.rs`) and over a
//! real port with the official JavaScript client (`js_client.rs`).

#![allow(dead_code, reason = "each test file uses part of the shared app")]

use phial_core::routing::get;
use phial_core::{App, Config, Session};
use phial_socket::socketioxide::handler::ConnectHandler;
use phial_socket::{AckSender, Data, Dep, Socket, SocketIo, SocketRef, User};

struct Greeting(&'static str);

#[derive(serde::Deserialize)]
struct Say {
    room: String,
    text: String,
}

/// Greets the client once it is connected (a connect handler: it emits).
async fn on_live(socket: SocketRef, greeting: Dep<Greeting>) {
    let _ = socket.emit("hello", greeting.0.0);
}

/// The namespace's events, set up before the client is told it is
/// connected (a middleware: an event emitted at once is never missed).
async fn live_events(socket: SocketRef) -> Result<(), std::convert::Infallible> {
    socket.on(
        "join",
        async |s: SocketRef, Data(room): Data<String>, ack: AckSender| {
            s.join(room.clone());
            let _ = ack.send(&room);
        },
    );
    socket.on("say", async |s: SocketRef, Data(say): Data<Say>| {
        let _ = s.within(say.room).emit("said", &say.text).await;
    });
    socket.on(
        "add",
        async |ack: AckSender, Data(terms): Data<Vec<i64>>| {
            let _ = ack.send(&terms.iter().sum::<i64>());
        },
    );
    Ok(())
}

async fn on_private(socket: SocketRef, User(id): User<i64>) {
    let _ = socket.emit("you", &id);
}

async fn login(session: Session) -> &'static str {
    session.insert("user_id", 7).unwrap();
    "signed in"
}

async fn announce(io: SocketIo) -> &'static str {
    let ns = io.of("/live").expect("the namespace is registered");
    ns.to("news").emit("headline", "from a view").await.unwrap();
    "sent"
}

pub(crate) async fn app_with(config: Config) -> App {
    App::builder(config)
        .insert(Greeting("welcome"))
        .route("/login", get(login))
        // What a careless logout may leave behind: not a user.
        .route(
            "/logout-badly",
            get(async |session: Session| {
                session.insert("user_id", "").unwrap();
                "signed out?"
            }),
        )
        .route("/announce", get(announce))
        .register(
            Socket::new()
                .ns("/live", on_live.with(live_events))
                .protected_ns("/private", on_private),
        )
        .build()
        .await
        .unwrap()
}

pub(crate) async fn app() -> App {
    app_with(Config::testing()).await
}
