//! # phial-socket
//!
//! Socket.IO for Phial apps, on socketioxide: Flask-SocketIO's ideas
//! (`@socketio.on`, `emit`, rooms, namespaces, `message_queue='redis://'`)
//! with handlers that are async functions taking extractors.
//!
//! - [`Socket`]: the extension; namespaces and their connect handlers are
//!   declared in the app factory, `protected_ns` ones refuse anonymous
//!   clients with a reason.
//! - [`SocketIo`]: an HTTP extractor to emit from any view.
//! - [`App`], [`Dep`], [`User`], [`SocketSession`]: the app and who
//!   connected, in socket handlers.
//! - `[socket] adapter = "redis"` (or `"redis-cluster"`) and a
//!   `redis_url`: a broadcast on any node reaches clients on every node;
//!   Redis going away degrades to this node's clients and recovers.
//! - [`RoomLog`]: events to a room kept for `socket.replay_secs`, so a
//!   client whose node restarted gets what it missed when it joins again
//!   (socket.io's connection state recovery, across nodes).
//! - [`testing::SocketClient`]: a Socket.IO client that drives the app
//!   in-process (Flask-SocketIO's `socketio.test_client(app)`).

mod adapter;
pub mod config;
mod driver;
mod error;
mod extension;
mod extract;
#[cfg(feature = "orm")]
pub mod feed;
mod metrics;
mod origin;
mod room_log;
pub mod testing;

pub use adapter::Adapter;
pub use config::{AdapterKind, SocketConfig};
pub use error::SocketError;
pub use extension::{Refused, Socket};
#[cfg(feature = "orm")]
pub use extract::caller;
pub use extract::{AckSender, App, Dep, ExtractError, SocketIo, SocketRef, SocketSession, User};
pub use room_log::{Replay, RoomLog};
pub use socketioxide;
pub use socketioxide::extract::{Data, TryData};

/// What socket handlers use most: `use phial::prelude::*;` brings it in
/// (the socket twins of `App` and `Dep` stay under `phial::socket`, beside
/// the core's).
pub mod prelude {
    pub use crate::{AckSender, Data, Socket, SocketIo, SocketRef, User};
}

pub use config::SECTION;
