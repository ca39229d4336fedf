//! Extractors: [`SocketIo`] for HTTP handlers (emit from a view, as
//! Flask-SocketIO's `socketio.emit`), and for socket handlers the app
//! ([`App`], [`Dep`]) and who connected ([`User`], [`SocketSession`]).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use phial_core::{AppState, Session, WeakAppState};
use serde::de::DeserializeOwned;
use socketioxide::handler::{FromConnectParts, FromDisconnectParts, FromMessageParts};
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide_core::Value;

use crate::adapter::Adapter;

/// A socket of one of the app's namespaces, in a handler.
///
/// ```
/// use phial_socket::SocketRef;
/// async fn on_connect(socket: SocketRef) {
///     socket.join("lobby");
/// }
/// ```
pub type SocketRef = socketioxide::extract::SocketRef<Adapter>;

/// Acknowledges a client's message (the client's callback receives what
/// is sent).
pub type AckSender = socketioxide::extract::AckSender<Adapter>;

/// The app's Socket.IO server: emit to a namespace, a room or everyone,
/// from any HTTP handler or task, on every node when the Redis adapter is
/// on.
///
/// ```
/// use phial_socket::SocketIo;
/// async fn publish(io: SocketIo) -> &'static str {
///     if let Some(ns) = io.of("/live") {
///         let _ = ns.to("news").emit("headline", "Phial 1.0").await;
///     }
///     "sent"
/// }
/// ```
#[derive(Clone, Debug)]
pub struct SocketIo(pub(crate) socketioxide::SocketIo<Adapter>);

impl Deref for SocketIo {
    type Target = socketioxide::SocketIo<Adapter>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl SocketIo {
    /// The server from the app's state, when `Socket` is registered.
    pub fn from_state(state: &AppState) -> Option<SocketIo> {
        state.get::<SocketIo>().cloned()
    }
}

// A route taking `SocketIo` in an app without `Socket` fails to build.
phial_core::state_extractor!(SocketIo, extension "Socket", register "phial::socket::Socket::new()");

/// What Phial learnt about a socket when it connected; kept in the socket's
/// extensions.
#[derive(Clone)]
pub(crate) struct Connected(pub(crate) Arc<ConnectedInner>);

pub(crate) struct ConnectedInner {
    pub(crate) app: WeakAppState,
    pub(crate) user: Option<serde_json::Value>,
    /// The same user as text (`Session::user_id`), for policies.
    #[cfg_attr(not(feature = "orm"), expect(dead_code, reason = "policies read it"))]
    pub(crate) user_id: Option<String>,
    pub(crate) session: Option<Session>,
    /// The `phial::auth` sign-ins it connected with (re-checked now and then).
    pub(crate) signed_in: Vec<phial_core::identity::SignedIn>,
    /// Who a contributed feed's own recogniser said the socket is.
    #[cfg(feature = "orm")]
    pub(crate) caller: Option<phial_orm::policy::Caller>,
}

/// Why an extractor could not give its value (the handler is then not
/// called, and the reason is logged).
#[derive(Debug)]
pub enum ExtractError {
    /// The app is gone (shutting down).
    AppGone,
    /// Nothing of this type in the app's state.
    MissingState(&'static str),
    /// The socket's connection had no signed-in user.
    Anonymous,
    /// The signed-in user's session value is not of the asked type.
    UserType(String),
    /// Sessions are off (config `session.enabled`).
    NoSession,
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::AppGone => write!(f, "the app is shutting down"),
            ExtractError::MissingState(t) => write!(
                f,
                "no `{t}` in the app state: register the extension that provides it"
            ),
            ExtractError::Anonymous => write!(
                f,
                "no signed-in user on this connection: register the namespace with \
                 `Socket::protected_ns` so anonymous clients are refused at connect"
            ),
            ExtractError::UserType(e) => write!(
                f,
                "the session's user (config `socket.user_key`) is not of the asked type: {e}"
            ),
            ExtractError::NoSession => write!(
                f,
                "sessions are off (config `session.enabled`): turn them on to use `SocketSession`"
            ),
        }
    }
}

impl std::error::Error for ExtractError {}

fn connected(s: &Socket<Adapter>) -> Result<Connected, ExtractError> {
    // Every namespace is registered with Phial's connect step, which puts
    // this in first: absent only while the app shuts down.
    s.extensions.get::<Connected>().ok_or(ExtractError::AppGone)
}

/// Who the socket is, as a model's policy sees it: the session's user it
/// connected with, or anonymous — what REST's session guard gives for the
/// same cookie.
///
/// ```
/// use phial_socket::SocketRef;
/// async fn on_connect(socket: SocketRef) {
///     let caller = phial_socket::caller(&socket);
///     let _ = socket.emit("signed_in", &caller.is_authenticated());
/// }
/// ```
#[cfg(feature = "orm")]
pub fn caller(s: &Socket<Adapter>) -> phial_orm::policy::Caller {
    let connected = connected(s).ok();
    if let Some(caller) = connected.as_ref().and_then(|c| c.0.caller.clone()) {
        return caller;
    }
    match connected.and_then(|c| c.0.user_id.clone()) {
        Some(id) => phial_orm::policy::Caller::user(id),
        None => phial_orm::policy::Caller::anonymous(),
    }
}

fn app(s: &Socket<Adapter>) -> Result<AppState, ExtractError> {
    connected(s)?.0.app.upgrade().ok_or(ExtractError::AppGone)
}

/// Implements the three socketioxide extractor traits from one function.
macro_rules! socket_extractor {
    ($ty:ty, $(<$g:ident: $($b:path),+>)? |$s:ident| $body:expr) => {
        impl$(<$g: $($b+)+ 'static>)? FromConnectParts<Adapter> for $ty {
            type Error = ExtractError;
            fn from_connect_parts($s: &Arc<Socket<Adapter>>, _: &Option<Value>) -> Result<Self, ExtractError> {
                $body
            }
        }
        impl$(<$g: $($b+)+ 'static>)? FromMessageParts<Adapter> for $ty {
            type Error = ExtractError;
            fn from_message_parts($s: &Arc<Socket<Adapter>>, _: &mut Value, _: &Option<i64>) -> Result<Self, ExtractError> {
                $body
            }
        }
        impl$(<$g: $($b+)+ 'static>)? FromDisconnectParts<Adapter> for $ty {
            type Error = ExtractError;
            fn from_disconnect_parts($s: &Arc<Socket<Adapter>>, _: DisconnectReason) -> Result<Self, ExtractError> {
                $body
            }
        }
    };
}

/// The app's state in a socket handler (the database, the cache, config).
///
/// ```
/// use phial_socket::{App, SocketRef};
/// async fn on_connect(socket: SocketRef, App(app): App) {
///     let name = app.core().app_name();
///     let _ = socket.emit("welcome", &name);
/// }
/// ```
pub struct App(pub AppState);

socket_extractor!(App, |s| app(s).map(App));

impl Deref for App {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// A value the app or an extension provided, by type, in a socket handler
/// (the socket twin of [`phial_core::Dep`]).
///
/// ```
/// use phial_socket::{Dep, SocketRef};
/// struct Greeting(&'static str);
/// async fn on_connect(socket: SocketRef, greeting: Dep<Greeting>) {
///     let _ = socket.emit("hello", greeting.0.0);
/// }
/// ```
pub struct Dep<T>(pub Arc<T>);

socket_extractor!(Dep<T>, <T: Send, Sync> |s| {
    app(s)?
        .get_arc::<T>()
        .map(Dep)
        .ok_or(ExtractError::MissingState(std::any::type_name::<T>()))
});

impl<T> Deref for Dep<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The signed-in user of the HTTP session the socket connected with (the
/// session key `socket.user_key`, `user_id` by default), read from the
/// signed session cookie at connect. Fails (the handler is not called) for
/// anonymous sockets: use it in `protected_ns` namespaces, or
/// `Option<User<T>>` through [`User::of`].
///
/// ```
/// use phial_socket::{SocketRef, User};
/// async fn on_connect(socket: SocketRef, User(id): User<i64>) {
///     socket.join(format!("user:{id}"));
/// }
/// ```
pub struct User<T = i64>(pub T);

impl<T: DeserializeOwned> User<T> {
    /// The socket's user, if it connected signed in.
    pub fn of(socket: &Socket<Adapter>) -> Option<User<T>> {
        user(socket).ok()
    }
}

fn user<T: DeserializeOwned>(s: &Socket<Adapter>) -> Result<User<T>, ExtractError> {
    let c = connected(s)?;
    let value = c.0.user.clone().ok_or(ExtractError::Anonymous)?;
    serde_json::from_value(value)
        .map(User)
        .map_err(|e| ExtractError::UserType(e.to_string()))
}

socket_extractor!(User<T>, <T: DeserializeOwned> |s| user(s));

/// The HTTP session the socket connected with, read-only: what the signed
/// cookie held at connect (changes made here reach no cookie).
///
/// ```
/// use phial_socket::{SocketRef, SocketSession};
/// async fn on_connect(socket: SocketRef, SocketSession(session): SocketSession) {
///     let theme: Option<String> = session.get("theme");
///     let _ = socket.emit("theme", &theme);
/// }
/// ```
pub struct SocketSession(pub Session);

socket_extractor!(SocketSession, |s| {
    connected(s)?
        .0
        .session
        .clone()
        .map(SocketSession)
        .ok_or(ExtractError::NoSession)
});
