//! What can go wrong in the Socket.IO extension outside a handler: the
//! Redis behind the cluster adapter. (A refused connection is
//! [`Refused`](crate::Refused); an extractor that finds nothing is
//! [`ExtractError`](crate::ExtractError).)

/// A failure of the Redis the adapter broadcasts through.
///
/// ```
/// use phial_socket::SocketError;
/// let e = SocketError::RedisUrl("`x` is not a Redis URL".into());
/// assert!(e.to_string().contains("socket.redis_url"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// `socket.redis_url` (or the cluster's seeds) cannot be used.
    #[error("Socket.IO Redis adapter: {0}: fix `socket.redis_url` (PHIAL_SOCKET__REDIS_URL)")]
    RedisUrl(String),
    /// Redis failed or did not answer in time; broadcasts reach this
    /// node's clients until it is back.
    #[error(
        "Socket.IO Redis adapter: {0} (broadcasts reach this node's clients only until Redis is back)"
    )]
    Redis(String),
}
