//! Socket.IO's part of `/metrics`, read at each scrape: this node's
//! connected sockets and open rooms, by namespace. (Per node, so a sum over
//! the nodes is the cluster's figure; asking every node at each scrape
//! would put a Redis round trip in every scrape of every node.)

use phial_core::metrics::gauge;

use crate::adapter::Adapter;

/// Sets the connection and room gauges from `io`'s namespaces.
pub(crate) async fn collect(io: &socketioxide::SocketIo<Adapter>) {
    for ns in io.nsps() {
        let path = ns.ns_path().to_owned();
        let sockets = ns.clone().local().sockets().len();
        gauge!("phial_socket_connections", "namespace" => path.clone()).set(sockets as f64);
        match ns.local().rooms().await {
            Ok(rooms) => {
                gauge!("phial_socket_rooms", "namespace" => path).set(rooms.len() as f64);
            }
            Err(e) => tracing::debug!("socket rooms of `{path}` for metrics: {e}"),
        }
    }
}

/// Describes the figures once, for the page's `# HELP` lines.
pub(crate) fn describe() {
    phial_core::metrics::describe_gauge!(
        "phial_socket_connections",
        "Socket.IO clients connected to this node, by namespace"
    );
    phial_core::metrics::describe_gauge!(
        "phial_socket_rooms",
        "Rooms with a client on this node, by namespace"
    );
}
