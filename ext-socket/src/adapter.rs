//! One adapter type whatever the config says. socketioxide makes the adapter
//! a type parameter of every handler and extractor (`SocketRef<A>`), so a
//! choice made in config at run time needs one type that is either: this
//! node's rooms only (`local`, no cost over socketioxide's own local
//! adapter) or the Redis adapter over Phial's [`PubSub`] driver.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use socketioxide::adapter::Emitter;
use socketioxide_core::adapter::errors::BroadcastError;
use socketioxide_core::adapter::{
    BroadcastOptions, CoreAdapter, CoreLocalAdapter, DefinedAdapter, RemoteSocketData, Room,
    RoomParam, Spawnable,
};
use socketioxide_core::packet::Packet;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterCtr};

use crate::driver::PubSub;

type Remote = CustomRedisAdapter<Emitter, PubSub>;

/// Phial's Socket.IO adapter: local or over Redis, as `socket.adapter`
/// says. Handlers name it through [`SocketRef`](crate::SocketRef).
pub struct Adapter(Kind);

enum Kind {
    Local(CoreLocalAdapter<Emitter>),
    Remote(Arc<Remote>),
}

/// What every namespace's adapter is made from.
pub struct AdapterState(Option<RedisAdapterCtr<PubSub>>);

impl AdapterState {
    /// This node only.
    pub(crate) fn local() -> Self {
        AdapterState(None)
    }

    /// Across nodes through `driver`.
    pub(crate) fn remote(driver: PubSub, prefix: String, request_timeout: Duration) -> Self {
        let config = socketioxide_redis::RedisAdapterConfig::new()
            .with_prefix(prefix)
            .with_request_timeout(request_timeout);
        AdapterState(Some(RedisAdapterCtr::new_with_driver(driver, config)))
    }
}

/// The result of a namespace's setup (subscribing its channels).
pub struct InitRes(Option<socketioxide_redis::InitRes<PubSub>>);

impl std::future::Future for InitRes {
    type Output = Result<(), String>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.0.as_mut() {
            None => std::task::Poll::Ready(Ok(())),
            Some(fut) => std::pin::Pin::new(fut)
                .poll(cx)
                .map(|r| r.map_err(|e| e.to_string())),
        }
    }
}

impl Spawnable for InitRes {
    fn spawn(self) {
        if let Some(fut) = self.0 {
            fut.spawn();
        }
    }
}

impl DefinedAdapter for Adapter {}

impl CoreAdapter<Emitter> for Adapter {
    type Error = socketioxide_redis::Error<PubSub>;
    type State = AdapterState;
    type AckStream = <Remote as CoreAdapter<Emitter>>::AckStream;
    type InitRes = InitRes;

    fn new(state: &Self::State, local: CoreLocalAdapter<Emitter>) -> Self {
        match &state.0 {
            None => Adapter(Kind::Local(local)),
            Some(ctr) => Adapter(Kind::Remote(Arc::new(Remote::new(ctr, local)))),
        }
    }

    fn init(self: Arc<Self>, on_success: impl FnOnce() + Send + 'static) -> Self::InitRes {
        match &self.0 {
            Kind::Local(_) => {
                on_success();
                InitRes(None)
            }
            Kind::Remote(remote) => InitRes(Some(remote.clone().init(on_success))),
        }
    }

    async fn close(&self) -> Result<(), Self::Error> {
        match &self.0 {
            Kind::Local(_) => Ok(()),
            Kind::Remote(r) => r.close().await,
        }
    }

    async fn server_count(&self) -> Result<u16, Self::Error> {
        match &self.0 {
            Kind::Local(_) => Ok(1),
            Kind::Remote(r) => r.server_count().await,
        }
    }

    async fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> Result<(), BroadcastError> {
        match &self.0 {
            Kind::Local(l) => l.broadcast(packet, opts).map_err(BroadcastError::from),
            Kind::Remote(r) => r.broadcast(packet, opts).await,
        }
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> Result<Self::AckStream, Self::Error> {
        match &self.0 {
            Kind::Local(l) => Ok(Either::Left(l.broadcast_with_ack(packet, opts, timeout).0)),
            Kind::Remote(r) => r.broadcast_with_ack(packet, opts, timeout).await,
        }
    }

    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> Result<(), Self::Error> {
        match &self.0 {
            Kind::Local(l) => {
                l.add_sockets(opts, rooms);
                Ok(())
            }
            Kind::Remote(r) => r.add_sockets(opts, rooms).await,
        }
    }

    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> Result<(), Self::Error> {
        match &self.0 {
            Kind::Local(l) => {
                l.del_sockets(opts, rooms);
                Ok(())
            }
            Kind::Remote(r) => r.del_sockets(opts, rooms).await,
        }
    }

    async fn disconnect_socket(&self, opts: BroadcastOptions) -> Result<(), BroadcastError> {
        match &self.0 {
            Kind::Local(l) => l.disconnect_socket(opts).map_err(BroadcastError::Socket),
            Kind::Remote(r) => r.disconnect_socket(opts).await,
        }
    }

    async fn rooms(&self, opts: BroadcastOptions) -> Result<Vec<Room>, Self::Error> {
        match &self.0 {
            Kind::Local(l) => Ok(l.rooms(opts).into_iter().collect()),
            Kind::Remote(r) => r.rooms(opts).await,
        }
    }

    async fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> Result<Vec<RemoteSocketData>, Self::Error> {
        match &self.0 {
            Kind::Local(l) => Ok(l.fetch_sockets(opts)),
            Kind::Remote(r) => r.fetch_sockets(opts).await,
        }
    }

    fn get_local(&self) -> &CoreLocalAdapter<Emitter> {
        match &self.0 {
            Kind::Local(l) => l,
            Kind::Remote(r) => r.get_local(),
        }
    }
}

// `Adapter` is socketioxide's blanket trait over `CoreAdapter<Emitter>`.
const _: fn() = || {
    fn is_adapter<A: socketioxide::adapter::Adapter>() {}
    is_adapter::<Adapter>();
};
