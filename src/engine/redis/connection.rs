//! The command connection, to one Redis or to a Redis Cluster.
//!
//! Owns how commands reach Redis: one multiplexed connection that
//! reconnects by itself (a single Redis), or one cluster connection that
//! routes each command to the primary of its key's slot and follows
//! `MOVED`/`ASK` and failovers (a cluster). Both are lazy: the engine is
//! built while Redis is down and connects on first use. It must not know
//! what the commands mean; the engine does.
//!
//! Publishes that wait for replicas (`WAIT`) get connections of their own
//! ([`WaitLinks`]): `WAIT` blocks the connection it runs on until the
//! replicas answer or the timeout passes, and it only counts writes made on
//! that same connection. On the shared connection, one slow replica would
//! hold up every command of the instance (reads, `/readyz`'s `PING`) and
//! make concurrent publishes wait one after another.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    AggregateOp, MultipleNodeRoutingInfo, ResponsePolicy, Route, RoutingInfo,
    SingleNodeRoutingInfo, SlotAddr,
};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

/// How long a first connection may take before the call fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A ready connection, cheap to clone: commands on clones share it.
#[derive(Clone)]
pub enum Commands {
    /// One Redis.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Commands::Single(connection) => connection.req_packed_command(cmd),
            Commands::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Commands::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Commands::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Commands::Single(connection) => connection.get_db(),
            Commands::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Where commands go; hands out [`Commands`].
pub enum CommandLink {
    /// One Redis, through a connection manager.
    Single(ConnectionManager),
    /// A cluster.
    Cluster(Box<ClusterLink>),
}

/// A cluster client, and its connection once made.
pub struct ClusterLink {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
}

impl CommandLink {
    /// Commands to the one Redis at `client`.
    pub fn single(client: redis::Client) -> RedisResult<Self> {
        Self::single_waiting(client, Duration::ZERO)
    }

    /// Commands to the one Redis at `client`, whose replies may take
    /// `longest_wait` more than usual (a `WAIT` for replicas).
    pub fn single_waiting(client: redis::Client, longest_wait: Duration) -> RedisResult<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2) + longest_wait))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        ConnectionManager::new_lazy_with_config(client, config).map(CommandLink::Single)
    }

    /// Commands to the cluster `client` reaches.
    pub fn cluster(client: ClusterClient) -> Self {
        CommandLink::Cluster(Box::new(ClusterLink {
            client,
            connection: OnceCell::new(),
        }))
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, CommandLink::Cluster(_))
    }

    /// A connection to send commands on (the first call connects).
    pub async fn get(&self) -> RedisResult<Commands> {
        match self {
            CommandLink::Single(manager) => Ok(Commands::Single(manager.clone())),
            CommandLink::Cluster(link) => {
                let connection = link
                    .connection
                    .get_or_try_init(|| async {
                        tokio::time::timeout(CONNECT_TIMEOUT, link.client.get_async_connection())
                            .await
                            .map_err(|_| {
                                RedisError::from(std::io::Error::new(
                                    std::io::ErrorKind::TimedOut,
                                    "no cluster node answered",
                                ))
                            })?
                    })
                    .await?;
                Ok(Commands::Cluster(connection.clone()))
            }
        }
    }
}

impl Commands {
    /// Waits until `replicas` replicas acknowledged every write made so far
    /// on this connection (`WAIT`), at most `timeout`; returns how many did.
    /// On a cluster, `WAIT` goes to the primary that took the writes: the
    /// one serving `key`'s slot, or with no key every primary (the fewest
    /// acknowledgements count).
    pub async fn wait_for_replicas(
        &mut self,
        key: Option<&str>,
        replicas: usize,
        timeout: Duration,
    ) -> RedisResult<usize> {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(millis);
        let acknowledged = match self {
            Commands::Single(connection) => wait.query_async(connection).await?,
            Commands::Cluster(connection) => {
                let routing = match key {
                    Some(key) => RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                        Route::new(slot_of(key), SlotAddr::Master),
                    )),
                    None => RoutingInfo::MultiNode((
                        MultipleNodeRoutingInfo::AllMasters,
                        Some(ResponsePolicy::Aggregate(AggregateOp::Min)),
                    )),
                };
                redis::from_redis_value(connection.route_command(wait, routing).await?)?
            }
        };
        Ok(acknowledged)
    }
}

/// Connections of their own for publishes that wait for replicas, one
/// publish at a time on each (see the module docs). Made lazily: a link
/// connects on its first use.
pub struct WaitLinks {
    links: Vec<CommandLink>,
    free: std::sync::Mutex<Vec<usize>>,
    slots: tokio::sync::Semaphore,
}

/// One of [`WaitLinks`], taken until dropped.
pub struct WaitLink<'a> {
    links: &'a WaitLinks,
    index: usize,
    _slot: tokio::sync::SemaphorePermit<'a>,
}

impl WaitLinks {
    /// `count` links, each made by `make`.
    pub fn new(count: usize, make: impl Fn() -> RedisResult<CommandLink>) -> RedisResult<Self> {
        let count = count.max(1);
        Ok(Self {
            links: (0..count).map(|_| make()).collect::<RedisResult<_>>()?,
            free: std::sync::Mutex::new((0..count).collect()),
            slots: tokio::sync::Semaphore::new(count),
        })
    }

    /// A link no other publish is using; waits while all are taken.
    pub async fn take(&self) -> RedisResult<WaitLink<'_>> {
        let closed = || {
            RedisError::from(std::io::Error::other(
                "the replicated-write connections are closed",
            ))
        };
        let slot = self.slots.acquire().await.map_err(|_| closed())?;
        let index = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .ok_or_else(closed)?;
        Ok(WaitLink {
            links: self,
            index,
            _slot: slot,
        })
    }
}

impl WaitLink<'_> {
    /// The link's connection (connecting on first use).
    pub async fn get(&self) -> RedisResult<Commands> {
        self.links.links[self.index].get().await
    }
}

impl Drop for WaitLink<'_> {
    fn drop(&mut self) {
        self.links
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(self.index);
    }
}

/// The cluster hash slot of `key`: CRC16 (XMODEM) of its hash tag (the text
/// between the first `{` and the next `}`, when not empty) or of the whole
/// key, modulo 16384.
pub fn slot_of(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes
        .iter()
        .position(|b| *b == b'{')
        .and_then(|open| {
            let rest = &bytes[open + 1..];
            let close = rest.iter().position(|b| *b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(bytes);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_for_plain_and_tagged_keys() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(slot_of("foo"), 12182);
        assert_eq!(slot_of("{user1000}.following"), slot_of("user1000"));
        assert_eq!(slot_of("belfry:{alice}:inbox"), slot_of("alice"));
        // An empty tag does not count: the whole key is hashed.
        assert_ne!(slot_of("foo{}{bar}"), slot_of("bar"));
        assert_ne!(slot_of("foo{}{bar}"), slot_of(""));
    }
}
