//! The `Socket` extension: a Socket.IO server (socketioxide) mounted at
//! `socket.path`, its namespaces registered in the app factory, connect-time
//! auth from the HTTP session, origins checked, many nodes over Redis.
//!
//! One file: the extension's builder and its mounting share the namespace
//! table.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use phial_core::{AppBuilder, AppState, BoxError, Session, WeakAppState};
use socketioxide::TransportType;
use socketioxide::handler::ConnectHandler;

use crate::adapter::{Adapter, AdapterState};
use crate::config::{AdapterKind, SocketConfig};
use crate::driver::PubSub;
use crate::extract::{Connected, ConnectedInner, SocketIo, SocketRef};
use crate::origin::{OriginLayer, Origins};
use crate::room_log::RoomLog;

type Register = Arc<
    dyn Fn(&socketioxide::SocketIo<Adapter>, ConnectStep) -> crate::adapter::InitRes + Send + Sync,
>;

#[derive(Clone)]
struct Namespace {
    path: String,
    register: Register,
    /// A contributed feed's recogniser.
    #[cfg(feature = "orm")]
    who: Option<Arc<WhoFn>>,
}

/// Socket.IO for the app: Flask-SocketIO's `SocketIO(app)`, with
/// namespaces and their handlers declared in the factory.
///
/// A namespace's connect handler runs on a task of its own once the
/// client has been told it is connected, so a client that emits at once
/// can be faster than the `socket.on(..)` calls in it, and that event is
/// lost. Set events up in a connect middleware (`.with(..)`), which runs
/// before the client is told: nothing it sends can arrive first.
///
/// ```
/// use phial_core::{App, Config};
/// use phial_socket::socketioxide::handler::ConnectHandler;
/// use phial_socket::{AckSender, Data, Socket, SocketRef};
///
/// async fn events(socket: SocketRef) -> Result<(), std::convert::Infallible> {
///     socket.on("ping", async |ack: AckSender, Data(n): Data<u32>| {
///         let _ = ack.send(&(n + 1));
///     });
///     Ok(())
/// }
///
/// async fn create_app(config: Config) -> phial_core::Result<App> {
///     Ok(App::builder(config)
///         .register(Socket::new().ns("/", (async |_s: SocketRef| {}).with(events)))
///         .build()
///         .await?)
/// }
/// ```
#[derive(Default)]
pub struct Socket {
    namespaces: Vec<Namespace>,
    #[cfg(feature = "orm")]
    feeds: Vec<crate::feed::Feed>,
    /// Feeds other extensions contributed (`phial_orm::live::LiveFeed`),
    /// taken in `finish`, opened at startup.
    #[cfg(feature = "orm")]
    contributed: Arc<std::sync::Mutex<Vec<phial_orm::live::LiveFeed>>>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field(
                "namespaces",
                &self.namespaces.iter().map(|n| &n.path).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Socket {
    /// A server with no namespace yet.
    pub fn new() -> Socket {
        Socket::default()
    }

    /// A namespace anyone may connect to; `on_connect` runs for each
    /// socket (register its events there with `socket.on`).
    pub fn ns<C, T>(self, path: &str, on_connect: C) -> Socket
    where
        C: ConnectHandler<Adapter, T>,
        T: Send + Sync + 'static,
    {
        self.add(path, false, on_connect)
    }

    /// A namespace for signed-in users only: a client whose session cookie
    /// holds no user (`socket.user_key`) is refused at connect, and is told
    /// why (`connect_error` with a message). Handlers can take
    /// [`User`](crate::User).
    pub fn protected_ns<C, T>(self, path: &str, on_connect: C) -> Socket
    where
        C: ConnectHandler<Adapter, T>,
        T: Send + Sync + 'static,
    {
        self.add(path, true, on_connect)
    }

    /// Opens the change feed in namespace `ns` for `tables`: a client emits
    /// `watch` with a table's name and, when the table's policy (declared on
    /// `Orm`) lets it list rows, receives a `changed` event for every write
    /// to it (see [`crate::feed`]). Tables not listed cannot be watched.
    ///
    /// ```
    /// use phial_socket::{Socket, SocketRef};
    /// let socket = Socket::new()
    ///     .ns("/live", async |_s: SocketRef| {})
    ///     .feed("/live", ["post", "comment"]);
    /// ```
    #[cfg(feature = "orm")]
    pub fn feed<I, S>(mut self, ns: &str, tables: I) -> Socket
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.feeds.push(crate::feed::Feed {
            ns: ns.to_owned(),
            tables: Arc::new(tables.into_iter().map(Into::into).collect()),
            grants: false,
        });
        self
    }

    fn add<C, T>(mut self, path: &str, protected: bool, on_connect: C) -> Socket
    where
        C: ConnectHandler<Adapter, T>,
        T: Send + Sync + 'static,
    {
        self.namespaces.push(namespace(path, protected, on_connect));
        self
    }
}

fn namespace<C, T>(path: &str, protected: bool, on_connect: C) -> Namespace
where
    C: ConnectHandler<Adapter, T>,
    T: Send + Sync + 'static,
{
    let owned = path.to_owned();
    Namespace {
        path: path.to_owned(),
        #[cfg(feature = "orm")]
        who: None,
        register: Arc::new(move |io, mut step| {
            step.protected = protected;
            let step = Arc::new(step);
            let middleware = move |s: SocketRef| {
                let step = step.clone();
                async move { step.connect(&s).await }
            };
            io.ns(owned.clone(), on_connect.clone().with(middleware))
        }),
    }
}

/// Why a connection was refused (sent to the client as `connect_error`).
#[derive(Debug)]
pub enum Refused {
    /// The namespace needs a signed-in user and the session has none.
    SignInRequired,
    /// The app is shutting down.
    ShuttingDown,
    /// The session's sign-in cannot be checked right now (its store is
    /// unreachable): refused rather than let in as anonymous.
    Unavailable,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::SignInRequired => {
                write!(f, "sign in first: this namespace is for signed-in users")
            }
            Refused::ShuttingDown => {
                write!(f, "the server is shutting down: connect again shortly")
            }
            Refused::Unavailable => {
                write!(
                    f,
                    "sign-ins cannot be checked right now: connect again shortly"
                )
            }
        }
    }
}

impl std::error::Error for Refused {}

/// Phial's step before every namespace's own handler: who connected.
#[derive(Clone)]
pub(crate) struct ConnectStep {
    app: WeakAppState,
    protected: bool,
    #[cfg(feature = "orm")]
    feed: Option<crate::feed::Feed>,
    /// A contributed feed's recogniser: who the socket is (`None`: refused).
    #[cfg(feature = "orm")]
    who: Option<Arc<WhoFn>>,
}

#[cfg(feature = "orm")]
type WhoFn = dyn Fn(&AppState, Option<&Session>) -> Option<phial_orm::policy::Caller> + Send + Sync;

impl ConnectStep {
    async fn connect(&self, s: &SocketRef) -> Result<(), Refused> {
        let app = self.app.upgrade().ok_or(Refused::ShuttingDown)?;
        let sessions_on = app.core().session.enabled;
        let session = sessions_on
            .then(|| Session::from_extensions(&s.req_parts().extensions))
            .flatten();
        // Who signed in through `phial::auth` (resolved once; recognisers
        // read it): their sockets join rooms a sign-out empties on every
        // node.
        let identity = match &session {
            Some(se) => phial_core::identity::of(se)
                .await
                .map_err(|_| Refused::Unavailable)?,
            None => std::sync::Arc::new(phial_core::identity::Identity::anonymous()),
        };
        for signed in identity.users() {
            for room in signed.rooms() {
                s.join(room);
            }
        }
        let key = app
            .get::<Settings>()
            .map(|c| c.user_key.as_str())
            .unwrap_or("user_id");
        // One rule for "signed in" with REST's guards: the `phial::auth`
        // user, else (apps without accounts) `Session::user_id`; the
        // stored value is kept for `User<T>` to decode.
        let (user_id, user) = match identity.first() {
            Some(u) => (
                Some(u.id().to_owned()),
                Some(serde_json::Value::String(u.id().to_owned())),
            ),
            None => {
                let user_id = session.as_ref().and_then(|se| se.user_id(key));
                let user = user_id
                    .is_some()
                    .then(|| {
                        session
                            .as_ref()
                            .and_then(|se| se.get::<serde_json::Value>(key))
                    })
                    .flatten();
                (user_id, user)
            }
        };
        if self.protected && user_id.is_none() {
            return Err(Refused::SignInRequired);
        }
        #[cfg(feature = "orm")]
        let caller = match &self.who {
            Some(who) => Some(who(&app, session.as_ref()).ok_or(Refused::SignInRequired)?),
            None => None,
        };
        s.extensions.insert(Connected(Arc::new(ConnectedInner {
            app: self.app.clone(),
            user,
            user_id,
            signed_in: identity.users().to_vec(),
            session,
            #[cfg(feature = "orm")]
            caller,
        })));
        #[cfg(feature = "orm")]
        if let Some(feed) = &self.feed {
            feed.attach(s, &app);
        }
        Ok(())
    }
}

/// Disconnects the sockets of every sign-in that ends (a sign-out, "sign
/// out everywhere", a changed password or role), in every namespace, on
/// every node (the adapter carries the disconnect). A client told so
/// reconnects and is let in again only if its session still signs it in.
fn follow_sign_outs(state: &AppState, io: &socketioxide::SocketIo<Adapter>, paths: Vec<String>) {
    let mut events = state.sign_outs().subscribe();
    let io = io.clone();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("{n} sign-out events were missed by the socket extension");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let room = event.room();
            for path in &paths {
                if let Some(ns) = io.of(path.as_str())
                    && let Err(e) = ns.to(room.clone()).disconnect().await
                {
                    tracing::warn!("could not disconnect the sockets of a sign-out on {path}: {e}");
                }
            }
        }
    });
}

/// Every `every`, asks whether the sign-ins this node's sockets connected
/// with are still live (`identity::alive`: one that idled out ends with no
/// event), and disconnects the sockets whose sign-in ended. Stops with the
/// app.
fn recheck_sign_ins(
    state: &AppState,
    io: &socketioxide::SocketIo<Adapter>,
    paths: Vec<String>,
    every: Duration,
) {
    let app = state.downgrade();
    let io = io.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = app.upgrade() else { return };
            for path in &paths {
                let Some(ns) = io.of(path.as_str()) else {
                    continue;
                };
                for socket in ns.sockets() {
                    let Some(connected) = socket.extensions.get::<Connected>() else {
                        continue;
                    };
                    if connected.0.signed_in.is_empty() {
                        continue;
                    }
                    match phial_core::identity::alive(&state, &connected.0.signed_in).await {
                        Ok(live) if live.iter().all(|l| *l) => {}
                        Ok(_) => {
                            let _ = socket.disconnect();
                        }
                        // The store is down: checked again next time.
                        Err(e) => tracing::debug!("sign-ins of sockets not re-checked: {e}"),
                    }
                }
            }
        }
    });
}

/// The settings handlers need at run time.
pub(crate) struct Settings {
    pub(crate) user_key: String,
}

/// The Redis driver, when the adapter uses one (for the health check).
#[derive(Clone)]
pub(crate) struct Driver(pub(crate) PubSub);

fn transports(names: &[String]) -> Vec<TransportType> {
    let mut out = Vec::new();
    for n in names {
        let t = if n == "websocket" {
            TransportType::Websocket
        } else {
            TransportType::Polling
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn builder(cfg: &SocketConfig, adapter: AdapterState) -> socketioxide::SocketIoBuilder<Adapter> {
    let b = socketioxide::SocketIo::builder()
        // Mounted at `socket.path` with the prefix taken off.
        .req_path("/")
        .ping_interval(cfg.ping_interval())
        .ping_timeout(cfg.ping_timeout())
        .max_payload(cfg.max_payload)
        .max_buffer_size(cfg.max_buffer_size)
        .ack_timeout(Duration::from_secs(5));
    let b = match transports(&cfg.transports).as_slice() {
        [TransportType::Polling] => b.transports([TransportType::Polling]),
        [TransportType::Websocket] => b.transports([TransportType::Websocket]),
        _ => b,
    };
    b.with_adapter::<Adapter>(adapter)
}

impl phial_core::Extension for Socket {
    fn name(&self) -> &str {
        "socket"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let cfg: SocketConfig = app.section(crate::SECTION)?;
        let problems = cfg.check();
        if let Some((key, message)) = problems.first() {
            return Err(format!("config key `socket.{key}` {message}").into());
        }
        let prefix = cfg
            .channel_prefix
            .clone()
            .unwrap_or_else(|| format!("{}-socket.io", app.core_config().app_name()));
        let request_timeout = Duration::from_millis(cfg.request_timeout_ms);
        let (adapter, driver) = match cfg.adapter {
            AdapterKind::Local => (AdapterState::local(), None),
            kind => {
                let url = cfg.redis_url.clone().unwrap_or_default();
                let driver = if kind == AdapterKind::RedisCluster {
                    let seeds: Vec<String> = url
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                    PubSub::cluster(&seeds, &cfg.address_map)?
                } else {
                    PubSub::single(&url, &cfg.address_map)?
                };
                (
                    AdapterState::remote(driver.clone(), prefix.clone(), request_timeout),
                    Some(driver),
                )
            }
        };
        let (svc, io) = builder(&cfg, adapter).build_svc();
        let origins = Arc::new(Origins::new(
            &cfg.allowed_origins,
            app.core_config().session.secure,
        ));
        let svc = tower::Layer::layer(&OriginLayer { origins }, svc);
        app.nest_service(&cfg.path, svc);
        let any_origin = cfg.allowed_origins.iter().any(|o| o == "*");
        app.deploy_check(move |_state| {
            let mut findings = Vec::new();
            if any_origin {
                findings.push(phial_core::DeployFinding::warning(
                    "socket.allowed_origins",
                    "is `*`: a page on any site can open a socket with a visitor's session \
                     cookie; list the origins that serve your pages instead",
                ));
            }
            findings
        });
        app.insert(SocketIo(io.clone()));
        crate::metrics::describe();
        app.metrics_collector(|state: AppState| async move {
            if let Some(io) = state.get::<SocketIo>() {
                crate::metrics::collect(&io.0).await;
            }
        });
        app.insert(Settings {
            user_key: cfg.user_key.clone(),
        });
        let replay = Duration::from_secs(cfg.replay_secs);
        app.insert(match &driver {
            Some(driver) => RoomLog::redis(
                driver.clone(),
                &prefix,
                replay,
                cfg.replay_max,
                cfg.max_buffer_size,
            ),
            None => RoomLog::memory(replay, cfg.replay_max, cfg.max_buffer_size),
        });
        if let Some(driver) = driver {
            app.insert(Driver(driver));
            // Without Redis, clients on this node are still served.
            app.health_check_optional("socket", |state: AppState| async move {
                let driver = state
                    .get::<Driver>()
                    .ok_or("no socket driver in the state")?;
                driver.0.ping().await.map_err(BoxError::from)
            });
        }
        // Namespaces are set up once the state exists (their handlers reach
        // the app through it); a namespace's Redis channels are subscribed
        // then, and a bad path fails the start.
        let namespaces = self.namespaces.clone();
        #[cfg(feature = "orm")]
        let own_feeds = self.feeds.clone();
        #[cfg(feature = "orm")]
        for feed in &self.feeds {
            if !self.namespaces.iter().any(|n| n.path == feed.ns) {
                return Err(format!(
                    "a feed on `{0}`, which is no namespace: add `.ns(\"{0}\", on_connect)` first",
                    feed.ns
                )
                .into());
            }
        }
        #[cfg(feature = "orm")]
        let contributed = self.contributed.clone();
        let startup_io = io.clone();
        let recheck = Duration::from_secs(cfg.recheck_secs.max(1));
        app.on_startup(move |state| async move {
            #[cfg(feature = "orm")]
            let (namespaces, feeds) = {
                let mut all = namespaces;
                let mut feeds = own_feeds;
                let extra = contributed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                for live in extra {
                    let mut ns = namespace(&live.namespace, false, async |_s: SocketRef| {});
                    ns.who = Some(live.caller.clone());
                    all.push(ns);
                    feeds.push(crate::feed::Feed::contributed(&live));
                }
                (all, feeds)
            };
            let paths: Vec<String> = namespaces.iter().map(|n| n.path.clone()).collect();
            follow_sign_outs(&state, &startup_io, paths.clone());
            recheck_sign_ins(&state, &startup_io, paths, recheck);
            for ns in namespaces {
                let step = ConnectStep {
                    app: state.downgrade(),
                    protected: false,
                    #[cfg(feature = "orm")]
                    feed: feeds.iter().find(|f| f.ns == ns.path).cloned(),
                    #[cfg(feature = "orm")]
                    who: ns.who.clone(),
                };
                (ns.register)(&startup_io, step)
                    .await
                    .map_err(|e| format!("Socket.IO namespace `{}`: {e}", ns.path))?;
            }
            Ok(())
        });
        // WebSockets and long polls never end by themselves: close them as
        // soon as shutdown begins, so in-flight requests can finish.
        app.on_drain(move |state| async move {
            // Emits while the node drains (a write it is finishing) still
            // reach the other nodes' clients.
            if let Some(log) = state.get::<RoomLog>() {
                log.keep_broadcasting(&io);
            }
            io.close().await;
            Ok(())
        });
        Ok(())
    }

    /// Takes the feeds other extensions contributed (the admin's live
    /// pages) and follows the change feed when any feed is open.
    fn finish(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        #[cfg(feature = "orm")]
        {
            let mut feeds = self.feeds.clone();
            let mut taken = Vec::new();
            for (source, live) in app.take_contributions::<phial_orm::live::LiveFeed>() {
                if self.namespaces.iter().any(|n| n.path == live.namespace)
                    || taken
                        .iter()
                        .any(|t: &phial_orm::live::LiveFeed| t.namespace == live.namespace)
                {
                    return Err(format!(
                        "`{source}` asks for a live feed at namespace `{}`, which is taken: \
                         rename the app's namespace or configure `{source}`'s",
                        live.namespace
                    )
                    .into());
                }
                feeds.push(crate::feed::Feed::contributed(&live));
                taken.push(live);
            }
            *self.contributed.lock().unwrap_or_else(|p| p.into_inner()) = taken;
            // Listed among each model's doors (check --deploy, the matrix).
            for feed in &feeds {
                let mut tables: Vec<&String> = feed.tables.iter().collect();
                tables.sort();
                for table in tables {
                    phial_orm::doors::Doors::add(
                        app,
                        phial_orm::doors::Door {
                            table: table.clone(),
                            kind: phial_orm::doors::DoorKind::Feed {
                                namespace: feed.ns.clone(),
                                grants: feed.grants,
                            },
                            meta: None,
                            policy: None,
                            list: None,
                        },
                    );
                }
            }
            if !feeds.is_empty() {
                app.on_change("socket-feed", move |state, change| {
                    let feeds = feeds.clone();
                    async move {
                        let Some(io) = SocketIo::from_state(&state) else {
                            return;
                        };
                        for feed in &feeds {
                            feed.publish(&io, &change).await;
                        }
                    }
                });
            }
        }
        let _ = app;
        Ok(())
    }
}
