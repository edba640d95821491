//! Live fan-out on one Redis: one Pub/Sub connection per server instance,
//! fanned out in-process. (On a Redis Cluster, [`super::sharded`] keeps one
//! sharded Pub/Sub connection per shard instead, over the same registry.)
//!
//! Owns the registry of Pub/Sub channels that local streams watch (shared
//! with [`super::sharded`]), the single subscriber connection of a plain
//! Redis (subscribing to a channel when its first local
//! subscriber arrives, unsubscribing when its last one leaves), reconnection
//! with backoff, and the [`Live::Resync`] sent to every local subscriber once
//! the feed is back, so each one fills its gap from the stream. It must not
//! store or read history and never opens a connection per subscriber.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use crate::engine::stats::EngineStats;
use futures::StreamExt;
use redis::aio::PubSubSink;
use tokio::sync::{broadcast, watch, Notify};

use super::reply;
use crate::engine::{EngineError, Live, Subscription};

/// How long a new subscriber waits for Redis to confirm its channel.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an idle subscriber connection is checked with a `PING`.
pub(super) const PING_EVERY: Duration = Duration::from_secs(5);
/// Longest wait for Redis to confirm (un)subscriptions before the
/// connection is deemed lost.
pub(super) const RECONCILE_TIMEOUT: Duration = Duration::from_secs(3);
/// First and longest wait between reconnection attempts.
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(3);

/// The state of the subscriber connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Not connected yet since start-up.
    Starting,
    /// Connected, and every registered channel is (being) subscribed.
    Up,
    /// Lost; reconnecting.
    Down,
}

/// Whether Redis has confirmed a local channel's subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirmed {
    No,
    Yes,
}

struct LocalChannel {
    sender: broadcast::Sender<Live>,
    /// The lease the channel's subscriptions share: one per channel, so a
    /// stream holds only a clone of it; the channel goes with the last.
    lease: Weak<Lease>,
    confirmed: watch::Sender<Confirmed>,
}

#[derive(Default)]
struct Registry {
    /// Watched channels by Pub/Sub name.
    channels: HashMap<String, LocalChannel>,
    /// Names whose wanted state changed since the connection last looked.
    dirty: HashSet<String>,
}

/// The shared half of the fan-out: what subscribers and the connection task
/// both see.
pub struct Fanout {
    registry: Mutex<Registry>,
    pub(super) changed: Notify,
    link: watch::Sender<Link>,
    live_buffer: usize,
    pub(super) stats: EngineStats,
}

impl Fanout {
    /// An empty registry; nothing is connected until [`run`] is spawned.
    pub fn new(live_buffer: usize, stats: EngineStats) -> Arc<Self> {
        Arc::new(Self {
            registry: Mutex::new(Registry::default()),
            changed: Notify::new(),
            link: watch::Sender::new(Link::Starting),
            live_buffer: live_buffer.max(1),
            stats,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Every mutation is a single step, so a poisoned lock is consistent.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the subscriber connection is up.
    pub fn is_up(&self) -> bool {
        *self.link.borrow() == Link::Up
    }

    /// The Pub/Sub channels this instance watches.
    pub(super) fn channel_names(&self) -> Vec<String> {
        self.lock().channels.keys().cloned().collect()
    }

    /// How many Pub/Sub channels this instance watches (for tests and metrics).
    pub fn channel_count(&self) -> usize {
        self.lock().channels.len()
    }

    /// Subscribes to Pub/Sub channel `name`, returning once Redis has
    /// confirmed it, so nothing published afterwards can be missed.
    pub async fn subscribe(self: &Arc<Self>, name: &str) -> Result<Subscription, EngineError> {
        let mut link = self.link.subscribe();
        let up = match tokio::time::timeout(
            SUBSCRIBE_TIMEOUT,
            link.wait_for(|state| *state != Link::Starting),
        )
        .await
        {
            Ok(Ok(state)) => *state == Link::Up,
            _ => false,
        };
        if !up {
            return Err(EngineError::Unavailable(
                "no Redis subscriber connection".into(),
            ));
        }
        // From the lease on, dropping it gives the channel back.
        let (receiver, mut confirmed, new, lease) = {
            let mut registry = self.lock();
            let new = !registry.channels.contains_key(name);
            if new {
                registry.dirty.insert(name.to_owned());
            }
            let buffer = self.live_buffer;
            let channel =
                registry
                    .channels
                    .entry(name.to_owned())
                    .or_insert_with(|| LocalChannel {
                        sender: broadcast::Sender::new(buffer),
                        lease: Weak::new(),
                        confirmed: watch::Sender::new(Confirmed::No),
                    });
            let lease = channel.lease.upgrade().unwrap_or_else(|| {
                let lease = Arc::new(Lease {
                    fanout: Arc::clone(self),
                    name: name.to_owned(),
                });
                channel.lease = Arc::downgrade(&lease);
                lease
            });
            (
                channel.sender.subscribe(),
                channel.confirmed.subscribe(),
                new,
                lease,
            )
        };
        if new {
            self.changed.notify_one();
        }
        let confirmed = matches!(
            tokio::time::timeout(
                SUBSCRIBE_TIMEOUT,
                confirmed.wait_for(|c| *c == Confirmed::Yes),
            )
            .await,
            Ok(Ok(_))
        );
        if confirmed {
            Ok(Subscription::new(receiver, Some(Box::new(lease))))
        } else {
            Err(EngineError::Unavailable(
                "Redis did not confirm the subscription".into(),
            ))
        }
    }

    /// The last subscription of `name` is gone (its shared lease dropped),
    /// unless a new subscriber took a new lease meanwhile.
    fn release(&self, name: &str) {
        let mut registry = self.lock();
        let last = registry
            .channels
            .get(name)
            .is_some_and(|channel| channel.lease.strong_count() == 0);
        if last {
            registry.channels.remove(name);
            registry.dirty.insert(name.to_owned());
            drop(registry);
            self.changed.notify_one();
        }
    }

    /// Hands a Pub/Sub message to the local subscribers of its channel. A
    /// message it cannot read (e.g. from a faulty external publisher) makes
    /// them resync from the stream instead, so nothing is skipped silently.
    pub(super) fn dispatch(&self, channel: &str, payload: &[u8]) {
        let live = match reply::announcement(payload) {
            Ok(event) => Live::Event(Arc::new(event)),
            Err(error) => {
                tracing::warn!(%channel, %error, "unreadable Pub/Sub message; resyncing its subscribers");
                Live::Resync
            }
        };
        if let Some(local) = self.lock().channels.get(channel) {
            // No receivers is fine: the last one is leaving.
            let _ = local.sender.send(live);
        }
    }

    /// Brings Redis in line with the registry for every dirty name, then
    /// marks the wanted ones confirmed.
    pub(super) async fn reconcile(
        &self,
        sink: &mut impl Watch,
        subscribed: &mut HashSet<String>,
    ) -> redis::RedisResult<()> {
        let (to_subscribe, to_unsubscribe, touched) = {
            let mut registry = self.lock();
            let touched: Vec<String> = registry.dirty.drain().collect();
            let mut to_subscribe = Vec::new();
            let mut to_unsubscribe = Vec::new();
            for name in &touched {
                let wanted = registry.channels.contains_key(name);
                if wanted && !subscribed.contains(name) {
                    to_subscribe.push(name.clone());
                } else if !wanted && subscribed.contains(name) {
                    to_unsubscribe.push(name.clone());
                }
            }
            (to_subscribe, to_unsubscribe, touched)
        };
        if !to_subscribe.is_empty() {
            sink.watch(&to_subscribe).await?;
            subscribed.extend(to_subscribe);
        }
        if !to_unsubscribe.is_empty() {
            sink.unwatch(&to_unsubscribe).await?;
            for name in &to_unsubscribe {
                subscribed.remove(name);
            }
        }
        let registry = self.lock();
        for name in touched.iter().filter(|name| subscribed.contains(*name)) {
            if let Some(channel) = registry.channels.get(name) {
                channel.confirmed.send_replace(Confirmed::Yes);
            }
        }
        Ok(())
    }

    /// Marks `name` for (re)subscription, if it is still wanted.
    pub(super) fn mark_dirty(&self, name: &str) {
        let mut registry = self.lock();
        if registry.channels.contains_key(name) {
            registry.dirty.insert(name.to_owned());
            drop(registry);
            self.changed.notify_one();
        }
    }

    /// Tells the local subscribers of `name` that events may have been
    /// missed.
    pub(super) fn resync(&self, name: &str) {
        if let Some(channel) = self.lock().channels.get(name) {
            let _ = channel.sender.send(Live::Resync);
        }
    }

    /// The subscriber link is up with `channels` subscribed: every local
    /// subscriber replays from the stream whatever Pub/Sub may have lost
    /// while it was down (a no-op when nothing was).
    pub(super) fn link_up(&self, channels: usize) {
        let was = self.link.send_replace(Link::Up);
        self.stats.link_up.set(1);
        if was == Link::Down {
            self.stats.reconnects.inc();
            tracing::info!(
                channels,
                "Redis subscriber connection is back; resyncing streams"
            );
        }
        self.resync_all();
    }

    /// The subscriber link is down: new subscriptions wait or fail.
    pub(super) fn link_down(&self) {
        self.link.send_replace(Link::Down);
        self.stats.link_up.set(0);
    }

    /// Marks every registered channel for (re)subscription.
    pub(super) fn mark_all_dirty(&self) {
        let mut registry = self.lock();
        let names: Vec<String> = registry.channels.keys().cloned().collect();
        registry.dirty.extend(names);
    }

    /// Tells every local subscriber that events may have been missed.
    pub(super) fn resync_all(&self) {
        for channel in self.lock().channels.values() {
            let _ = channel.sender.send(Live::Resync);
        }
    }
}

/// How the fan-out asks Redis for the channels it watches: classic
/// `SUBSCRIBE` on the one subscriber connection ([`run`]), or sharded
/// `SSUBSCRIBE` on a cluster (`super::sharded`).
#[async_trait::async_trait]
pub(super) trait Watch: Send {
    /// Starts receiving `names`, returning once Redis confirmed them.
    async fn watch(&mut self, names: &[String]) -> redis::RedisResult<()>;
    /// Stops receiving `names`.
    async fn unwatch(&mut self, names: &[String]) -> redis::RedisResult<()>;
}

#[async_trait::async_trait]
impl Watch for PubSubSink {
    async fn watch(&mut self, names: &[String]) -> redis::RedisResult<()> {
        self.subscribe(names).await
    }

    async fn unwatch(&mut self, names: &[String]) -> redis::RedisResult<()> {
        self.unsubscribe(names).await
    }
}

/// Shared by a channel's [`Subscription`]s; dropping the last one gives
/// the channel back.
struct Lease {
    fanout: Arc<Fanout>,
    name: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.fanout.release(&self.name);
    }
}

/// Marks the link down and waits out `backoff`, doubling it for next time.
pub(super) async fn back_off(fanout: &Fanout, backoff: &mut Duration) {
    fanout.link_down();
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(BACKOFF_MAX);
}

/// Keeps the subscriber connection alive forever: connect, (re)subscribe,
/// resync, fan out, and on any failure start over after a backoff.
pub async fn run(fanout: Arc<Fanout>, client: redis::Client) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let connected =
            tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub()).await;
        let pubsub = match connected {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(error)) => {
                tracing::debug!(%error, ?backoff, "Redis subscriber connection failed");
                back_off(&fanout, &mut backoff).await;
                continue;
            }
            Err(_) => {
                tracing::debug!(?backoff, "Redis subscriber connection timed out");
                back_off(&fanout, &mut backoff).await;
                continue;
            }
        };
        let (mut sink, mut messages) = pubsub.split();
        let mut subscribed = HashSet::new();
        fanout.mark_all_dirty();
        let resubscribed = tokio::time::timeout(
            RECONCILE_TIMEOUT,
            fanout.reconcile(&mut sink, &mut subscribed),
        )
        .await;
        if !matches!(resubscribed, Ok(Ok(()))) {
            tracing::warn!("Redis resubscription failed or timed out");
            back_off(&fanout, &mut backoff).await;
            continue;
        }
        backoff = BACKOFF_MIN;
        fanout.link_up(subscribed.len());
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let failure = loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => fanout.dispatch(message.get_channel_name(), message.get_payload_bytes()),
                    None => break "the connection closed".to_owned(),
                },
                () = fanout.changed.notified() => {
                    match tokio::time::timeout(RECONCILE_TIMEOUT, fanout.reconcile(&mut sink, &mut subscribed)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => break error.to_string(),
                        Err(_) => break "SUBSCRIBE went unconfirmed".to_owned(),
                    }
                }
                _ = ping.tick() => {
                    let pong = tokio::time::timeout(Duration::from_secs(2), sink.ping::<redis::Value>()).await;
                    if !matches!(pong, Ok(Ok(_))) {
                        break "PING went unanswered".to_owned();
                    }
                }
            }
        };
        tracing::warn!(reason = %failure, "Redis subscriber connection lost; reconnecting");
        fanout.link_down();
    }
}
