//! Live fan-out on a Redis Cluster: sharded Pub/Sub.
//!
//! On a cluster, classic `PUBLISH` reaches every node, so it does not scale
//! with shards. Here the publish script announces with `SPUBLISH`, which
//! stays on the shard serving the channel's slot, and each instance
//! `SSUBSCRIBE`s there: one subscriber cluster connection per instance (one
//! connection per shard, not per stream), speaking RESP3, its messages
//! arriving as pushes.
//!
//! The redis crate follows the cluster: it re-subscribes after a
//! reconnect, a failover or a slot move. Any confirmation Belfry did not
//! ask for is such a re-subscription, and the channel's local subscribers
//! resync from the stream, so whatever was announced meanwhile is replayed.
//! A `SUNSUBSCRIBE` the server sends on its own (the slot moved away) is
//! answered by subscribing again, then resyncing. The registry, leases and
//! dispatch are [`super::fanout`]'s; this module only drives them. It must
//! not read or store events.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use super::fanout::{back_off, Fanout, Watch, BACKOFF_MIN, RECONCILE_TIMEOUT};

/// How often every primary is pinged: a failed primary is noticed (and its
/// channels moved to the promoted replica) within about this long.
const PING_EVERY: Duration = Duration::from_secs(1);

/// The subscriber side of the cluster connection, with the confirmations it
/// is waiting for, so a confirmation nobody asked for stands out.
struct ShardedWatch {
    connection: ClusterConnection,
    expected_subscribes: HashMap<String, usize>,
    expected_unsubscribes: HashMap<String, usize>,
}

/// Counts one expected confirmation of `name` off `expected`; false when
/// none was expected.
fn take_expected(expected: &mut HashMap<String, usize>, name: &str) -> bool {
    match expected.get_mut(name) {
        Some(count) => {
            *count -= 1;
            if *count == 0 {
                expected.remove(name);
            }
            true
        }
        None => false,
    }
}

#[async_trait::async_trait]
impl Watch for ShardedWatch {
    async fn watch(&mut self, names: &[String]) -> redis::RedisResult<()> {
        for name in names {
            *self.expected_subscribes.entry(name.clone()).or_default() += 1;
        }
        let result = per_channel(&self.connection, names, Direction::Subscribe).await;
        if result.is_err() {
            for name in names {
                self.expected_subscribes.remove(name);
            }
        }
        result
    }

    async fn unwatch(&mut self, names: &[String]) -> redis::RedisResult<()> {
        for name in names {
            self.expected_subscribes.remove(name);
            *self.expected_unsubscribes.entry(name.clone()).or_default() += 1;
        }
        per_channel(&self.connection, names, Direction::Unsubscribe).await
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Subscribe,
    Unsubscribe,
}

/// `SSUBSCRIBE` or `SUNSUBSCRIBE` each of `names`, side by side: a sharded
/// subscription names one slot, so every channel gets a call of its own.
/// The first error, if any, after all have answered.
async fn per_channel(
    connection: &ClusterConnection,
    names: &[String],
    direction: Direction,
) -> redis::RedisResult<()> {
    let calls = names.iter().map(|name| {
        let mut connection = connection.clone();
        async move {
            match direction {
                Direction::Subscribe => connection.ssubscribe(name).await,
                Direction::Unsubscribe => connection.sunsubscribe(name).await,
            }
        }
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), Err)
}

/// The channel a push is about, if it names one.
fn push_channel(push: &PushInfo) -> Option<&str> {
    match push.data.first() {
        Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

/// The subscriber loop's state between events.
struct Shards {
    fanout: Arc<Fanout>,
    watch: ShardedWatch,
    subscribed: HashSet<String>,
    /// Channels the server dropped: resynced once subscribed again.
    resync_when_watched: HashSet<String>,
    /// Whether every primary answers.
    up: bool,
    /// Whether the link was up before (so a new "up" follows a loss).
    lost: bool,
    /// A node connection closed: subscribe everything again at the next ping.
    resubscribe_pending: bool,
}

impl Shards {
    fn on_push(&mut self, push: &PushInfo) {
        let Some(channel) = push_channel(push) else {
            if push.kind == PushKind::Disconnection {
                // A node went away (restart, failover): its channels may now
                // be served elsewhere. At the next ping everything is
                // subscribed again where it lives now, then resynced.
                tracing::debug!("a Redis Cluster node connection closed");
                self.resubscribe_pending = true;
            }
            return;
        };
        match push.kind {
            PushKind::SMessage => {
                if let Some(Value::BulkString(payload)) = push.data.get(1) {
                    self.fanout.dispatch(channel, payload);
                }
            }
            PushKind::SSubscribe
                if !take_expected(&mut self.watch.expected_subscribes, channel) =>
            {
                // Re-subscribed by the client (reconnect, failover, slot
                // move): announcements may have gone by meanwhile.
                tracing::debug!(%channel, "re-subscribed on the cluster; resyncing");
                self.fanout.resync(channel);
            }
            PushKind::SUnsubscribe
                if !take_expected(&mut self.watch.expected_unsubscribes, channel)
                    && self.subscribed.remove(channel) =>
            {
                tracing::debug!(%channel, "the cluster dropped a subscription; subscribing again");
                self.resync_when_watched.insert(channel.to_owned());
                self.fanout.mark_dirty(channel);
            }
            _ => {}
        }
    }

    async fn reconcile(&mut self) {
        let reconciled = tokio::time::timeout(
            RECONCILE_TIMEOUT,
            self.fanout.reconcile(&mut self.watch, &mut self.subscribed),
        )
        .await;
        if matches!(reconciled, Ok(Ok(()))) {
            let dropped: Vec<String> = self.resync_when_watched.drain().collect();
            for channel in dropped {
                if self.subscribed.contains(&channel) {
                    self.fanout.resync(&channel);
                }
            }
            return;
        }
        tracing::warn!("a sharded subscription failed or timed out; retrying");
        // Whatever is wanted and not subscribed is tried again.
        self.fanout.mark_all_dirty();
        tokio::time::sleep(BACKOFF_MIN).await;
        self.fanout.changed.notify_one();
    }

    /// Subscribes every wanted channel again, wherever its slot lives now;
    /// each is resynced once subscribed.
    async fn resubscribe_everything(&mut self) {
        self.subscribed.clear();
        self.watch.expected_subscribes.clear();
        self.watch.expected_unsubscribes.clear();
        self.resync_when_watched.extend(self.fanout.channel_names());
        self.fanout.mark_all_dirty();
        self.reconcile().await;
    }

    async fn ping(&mut self) {
        if std::mem::take(&mut self.resubscribe_pending) {
            self.resubscribe_everything().await;
        }
        let routing = RoutingInfo::MultiNode((
            MultipleNodeRoutingInfo::AllMasters,
            Some(ResponsePolicy::AllSucceeded),
        ));
        let pong = tokio::time::timeout(
            Duration::from_secs(2),
            self.watch
                .connection
                .route_command(redis::cmd("PING"), routing),
        )
        .await;
        let ok = matches!(pong, Ok(Ok(_)));
        if ok && !self.up {
            if self.lost {
                // Back after a primary stopped answering.
                self.resubscribe_everything().await;
            }
            self.up = true;
            self.lost = true;
            self.fanout.link_up(self.subscribed.len());
        } else if !ok && self.up {
            tracing::warn!("a Redis Cluster primary did not answer PING");
            self.up = false;
            self.fanout.link_down();
        }
    }
}

/// Keeps the sharded subscriptions in line with the registry forever:
/// connect, then fan out pushes, reconcile changes and ping the primaries.
pub async fn run(
    fanout: Arc<Fanout>,
    client: ClusterClient,
    mut pushes: UnboundedReceiver<PushInfo>,
) {
    let mut backoff = BACKOFF_MIN;
    let connection = loop {
        match tokio::time::timeout(Duration::from_secs(2), client.get_async_connection()).await {
            Ok(Ok(connection)) => break connection,
            Ok(Err(error)) => tracing::debug!(%error, "Redis Cluster subscriber connection failed"),
            Err(_) => tracing::debug!("Redis Cluster subscriber connection timed out"),
        }
        back_off(&fanout, &mut backoff).await;
    };
    let mut shards = Shards {
        fanout: Arc::clone(&fanout),
        watch: ShardedWatch {
            connection,
            expected_subscribes: HashMap::new(),
            expected_unsubscribes: HashMap::new(),
        },
        subscribed: HashSet::new(),
        resync_when_watched: HashSet::new(),
        up: false,
        lost: false,
        resubscribe_pending: false,
    };
    fanout.mark_all_dirty();
    let mut ping = tokio::time::interval(PING_EVERY);
    loop {
        tokio::select! {
            push = pushes.recv() => match push {
                Some(push) => shards.on_push(&push),
                None => return,
            },
            () = fanout.changed.notified() => shards.reconcile().await,
            _ = ping.tick() => shards.ping().await,
        }
    }
}
