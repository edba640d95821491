//! The command connection, to one Redis or to a Redis Cluster.
//!
//! Owns how commands reach Redis: one multiplexed connection that
//! reconnects by itself (a single Redis), or one cluster connection that
//! routes each command to the primary of its key's slot and follows
//! `MOVED`/`ASK` and failovers (a cluster). Both are lazy: the engine is
//! built while Redis is down and connects on first use. It must not know
//! what the commands mean; the engine does.

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
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
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

    /// Waits until `replicas` replicas acknowledged every write made so far
    /// on this connection (`WAIT`), at most `timeout`; returns how many did.
    /// On a cluster, `WAIT` goes to the primary that took the writes: the
    /// one serving `key`'s slot, or with no key every primary (the fewest
    /// acknowledgements count).
    pub async fn wait_for_replicas(
        &self,
        key: Option<&str>,
        replicas: usize,
        timeout: Duration,
    ) -> RedisResult<usize> {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(millis);
        let acknowledged = match self.get().await? {
            Commands::Single(mut connection) => wait.query_async(&mut connection).await?,
            Commands::Cluster(mut connection) => {
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
