//! The in-process engine: history and fan-out inside this one server process.
//!
//! Used when no `REDIS_URL` is configured, so Belfry runs on a bare machine.
//! Owns a map of channels, each a bounded history plus a `tokio::sync::broadcast`
//! sender for live fan-out. It must not be used to share state between server
//! instances (that is the Redis engine's job) and keeps nothing across restarts.
//!
//! Bounds: each channel keeps its latest `history_cap` events; the engine
//! keeps at most `max_channels` channels, evicting the least recently used
//! channel that has no live subscriber when a new one is needed (and refusing
//! with [`EngineError::Unavailable`] if every channel is being watched).
//!
//! Locking: one `std::sync::Mutex` guards the map. Every critical section is
//! short and never awaits, which is why a blocking mutex beats an async one
//! here; publishing under the lock is what makes ids and fan-out agree on order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::broadcast;

use super::stats::EngineStats;
use super::{
    DedupeToken, Engine, EngineError, Event, EventId, History, Live, PublishOptions, Subscription,
    DEDUPE_TTL,
};

/// Sizes of the in-process engine.
#[derive(Debug, Clone, Copy)]
pub struct MemoryConfig {
    /// Events kept per channel for replay.
    pub history_cap: usize,
    /// Live events buffered per channel before a slow subscriber lags.
    pub live_buffer: usize,
    /// Channels kept at most.
    pub max_channels: usize,
    /// Members kept at most per set.
    pub max_set_members: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            history_cap: 500,
            live_buffer: 64,
            max_channels: 100_000,
            max_set_members: 100_000,
        }
    }
}

/// The in-process [`Engine`].
pub struct MemoryEngine {
    config: MemoryConfig,
    channels: Mutex<Channels>,
    sets: Mutex<HashMap<String, HashSet<String>>>,
    stats: EngineStats,
}

#[derive(Default)]
struct Channels {
    by_name: HashMap<String, Channel>,
    /// A logical clock for least-recently-used eviction.
    tick: u64,
}

struct Channel {
    history: VecDeque<Arc<Event>>,
    /// The newest id evicted from history, if any: resuming from it is still exact.
    evicted_through: Option<EventId>,
    last_id: Option<EventId>,
    sender: broadcast::Sender<Live>,
    last_used: u64,
    /// When the channel is to be deleted ([`Engine::expire`]).
    expires_at: Option<Instant>,
    /// Dedupe tokens seen, with the id they stored (kept for `DEDUPE_TTL`).
    dedupe: HashMap<DedupeToken, EventId>,
}

impl Channel {
    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

impl MemoryEngine {
    /// An empty engine with the given bounds (each at least 1).
    pub fn new(config: MemoryConfig) -> Self {
        let config = MemoryConfig {
            history_cap: config.history_cap.max(1),
            live_buffer: config.live_buffer.max(1),
            max_channels: config.max_channels.max(1),
            max_set_members: config.max_set_members.max(1),
        };
        Self {
            config,
            channels: Mutex::new(Channels::default()),
            sets: Mutex::new(HashMap::new()),
            stats: {
                let stats = EngineStats::default();
                stats.link_up.set(1);
                stats
            },
        }
    }

    /// Stores and announces one event (the body of `publish_with`).
    fn store(
        &self,
        channel: &str,
        name: &str,
        data: Bytes,
        options: PublishOptions,
    ) -> Result<Arc<Event>, EngineError> {
        let mut channels = self.lock();
        let config = self.config;
        // A publish already made under this token: its event, nothing new.
        if let Some(token) = options.dedupe {
            let prior = channels.live(channel).and_then(|channel| {
                let id = *channel.dedupe.get(&token)?;
                let stored = channel.history.iter().find(|event| event.id == id);
                Some(
                    stored.map_or_else(|| Arc::new(Event::new(id, name, data.clone())), Arc::clone),
                )
            });
            if let Some(event) = prior {
                return Ok(event);
            }
        }
        // Check the precondition first: a refused publish creates nothing.
        if let Some(expected) = options.expect_last {
            let newest = channels
                .live(channel)
                .and_then(|channel| channel.history.back())
                .map_or(EventId::ZERO, |event| event.id);
            if newest != expected {
                return Err(EngineError::Conflict);
            }
        }
        let channel = channels.get_or_create(channel, &config)?;
        let cap = options
            .cap
            .map_or(config.history_cap, |cap| cap.clamp(1, config.history_cap));
        let now = now_ms();
        let id = EventId::next_after(channel.last_id, now);
        let event = Arc::new(Event::new(id, name, data));
        channel.last_id = Some(id);
        if let Some(token) = options.dedupe {
            let ttl_ms = u64::try_from(DEDUPE_TTL.as_millis()).unwrap_or(u64::MAX);
            channel
                .dedupe
                .retain(|_, seen| seen.ms.saturating_add(ttl_ms) > now);
            channel.dedupe.insert(token, id);
        }
        channel.history.push_back(Arc::clone(&event));
        while channel.history.len() > cap {
            if let Some(evicted) = channel.history.pop_front() {
                channel.evicted_through = Some(evicted.id);
            }
        }
        // No receivers is not an error: the event is stored for replay.
        let _ = channel.sender.send(Live::Event(Arc::clone(&event)));
        Ok(event)
    }

    fn lock(&self) -> MutexGuard<'_, Channels> {
        // A panic while holding the lock leaves the map consistent (every
        // mutation is a single step), so a poisoned lock is still usable.
        self.channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many channels exist now (for tests and metrics).
    pub fn channel_count(&self) -> usize {
        self.lock().by_name.len()
    }
}

impl Channels {
    fn touch(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The channel named `name`, created (and room made for it) if missing.
    fn get_or_create(
        &mut self,
        name: &str,
        config: &MemoryConfig,
    ) -> Result<&mut Channel, EngineError> {
        let now = self.touch();
        self.drop_if_expired(name);
        if !self.by_name.contains_key(name) {
            if self.by_name.len() >= config.max_channels {
                self.evict_one_idle()?;
            }
            let (sender, _) = broadcast::channel(config.live_buffer);
            self.by_name.insert(
                name.to_owned(),
                Channel {
                    history: VecDeque::new(),
                    evicted_through: None,
                    last_id: None,
                    sender,
                    last_used: now,
                    expires_at: None,
                    dedupe: HashMap::new(),
                },
            );
        }
        let channel = self
            .by_name
            .get_mut(name)
            .ok_or_else(|| EngineError::Invalid("channel vanished".into()))?;
        channel.last_used = now;
        Ok(channel)
    }

    /// Deletes `name` if its expiry has passed.
    fn drop_if_expired(&mut self, name: &str) {
        if self
            .by_name
            .get(name)
            .is_some_and(|channel| channel.expired(Instant::now()))
        {
            self.by_name.remove(name);
        }
    }

    /// The live channel `name`, if it exists and has not expired.
    fn live(&mut self, name: &str) -> Option<&Channel> {
        self.drop_if_expired(name);
        self.by_name.get(name)
    }

    fn evict_one_idle(&mut self) -> Result<(), EngineError> {
        let victim = self
            .by_name
            .iter()
            .filter(|(_, channel)| channel.sender.receiver_count() == 0)
            .min_by_key(|(_, channel)| channel.last_used)
            .map(|(name, _)| name.clone());
        match victim {
            Some(name) => {
                self.by_name.remove(&name);
                Ok(())
            }
            None => Err(EngineError::Unavailable(
                "channel limit reached and every channel has subscribers".into(),
            )),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[async_trait]
impl Engine for MemoryEngine {
    async fn publish_with(
        &self,
        channel: &str,
        name: &str,
        data: Bytes,
        options: PublishOptions,
    ) -> Result<Arc<Event>, EngineError> {
        let published = self.store(channel, name, data, options);
        self.stats.publish_outcome(&published);
        published
    }

    fn stats(&self) -> &EngineStats {
        &self.stats
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, EngineError> {
        let mut channels = self.lock();
        let config = self.config;
        let channel = channels.get_or_create(channel, &config)?;
        Ok(Subscription::new(channel.sender.subscribe(), None))
    }

    async fn expire(&self, channel: &str, after: Duration) -> Result<(), EngineError> {
        let mut channels = self.lock();
        channels.drop_if_expired(channel);
        if let Some(channel) = channels.by_name.get_mut(channel) {
            channel.expires_at = Some(Instant::now() + after);
        }
        Ok(())
    }

    async fn history_after(&self, channel: &str, after: EventId) -> Result<History, EngineError> {
        let mut channels = self.lock();
        let Some(channel) = channels.live(channel) else {
            return Ok(if after == EventId::ZERO {
                History::Events(Vec::new())
            } else {
                History::Gone
            });
        };
        if channel.evicted_through == Some(after)
            || (after == EventId::ZERO && channel.evicted_through.is_none())
        {
            return Ok(History::Events(channel.history.iter().cloned().collect()));
        }
        // Ids in history are sorted, so a binary search finds `after` exactly.
        let (front, back) = channel.history.as_slices();
        let position = match front.binary_search_by(|e| e.id.cmp(&after)) {
            Ok(index) => Some(index),
            Err(_) => back
                .binary_search_by(|e| e.id.cmp(&after))
                .ok()
                .map(|index| index + front.len()),
        };
        Ok(match position {
            Some(index) => {
                History::Events(channel.history.iter().skip(index + 1).cloned().collect())
            }
            None => History::Gone,
        })
    }

    async fn latest(&self, channel: &str, limit: usize) -> Result<Vec<Arc<Event>>, EngineError> {
        let mut channels = self.lock();
        Ok(channels.live(channel).map_or_else(Vec::new, |channel| {
            let skip = channel.history.len().saturating_sub(limit);
            channel.history.iter().skip(skip).cloned().collect()
        }))
    }

    async fn remember(&self, set: &str, member: &str) -> Result<(), EngineError> {
        let mut sets = self
            .sets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let members = sets.entry(set.to_owned()).or_default();
        if members.contains(member) {
            return Ok(());
        }
        if members.len() >= self.config.max_set_members {
            return Err(EngineError::Unavailable(format!("set {set:?} is full")));
        }
        members.insert(member.to_owned());
        Ok(())
    }

    async fn members(&self, set: &str) -> Result<Vec<String>, EngineError> {
        let sets = self
            .sets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(sets
            .get(set)
            .map_or_else(Vec::new, |members| members.iter().cloned().collect()))
    }

    async fn forget(&self, set: &str, member: &str) -> Result<(), EngineError> {
        let mut sets = self
            .sets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(members) = sets.get_mut(set) {
            members.remove(member);
        }
        Ok(())
    }

    async fn ready(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(history_cap: usize, max_channels: usize) -> MemoryEngine {
        MemoryEngine::new(MemoryConfig {
            history_cap,
            live_buffer: 4,
            max_channels,
            max_set_members: 2,
        })
    }

    fn data(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    #[tokio::test]
    async fn history_keeps_only_the_latest_cap_events() {
        let engine = engine(3, 10);
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(engine.publish("c", "e", data("x")).await.unwrap().id);
        }
        let latest = engine.latest("c", 10).await.unwrap();
        assert_eq!(latest.iter().map(|e| e.id).collect::<Vec<_>>(), ids[2..]);
    }

    #[tokio::test]
    async fn resuming_from_the_newest_evicted_id_is_still_exact() {
        let engine = engine(2, 10);
        let mut ids = Vec::new();
        for _ in 0..4 {
            ids.push(engine.publish("c", "e", data("x")).await.unwrap().id);
        }
        match engine.history_after("c", ids[1]).await.unwrap() {
            History::Events(events) => {
                assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), ids[2..]);
            }
            History::Gone => panic!("ids[1] is the newest evicted id; replay must be exact"),
        }
        assert!(matches!(
            engine.history_after("c", ids[0]).await.unwrap(),
            History::Gone
        ));
    }

    #[tokio::test]
    async fn the_least_recently_used_idle_channel_is_evicted_at_the_channel_cap() {
        let engine = engine(10, 2);
        engine.publish("old", "e", data("x")).await.unwrap();
        engine.publish("new", "e", data("x")).await.unwrap();
        engine.publish("newest", "e", data("x")).await.unwrap();
        assert_eq!(engine.channel_count(), 2);
        assert!(engine.latest("old", 10).await.unwrap().is_empty());
        assert_eq!(engine.latest("new", 10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn sets_are_bounded_and_idempotent() {
        let engine = engine(10, 10);
        engine.remember("users", "a").await.unwrap();
        engine.remember("users", "a").await.unwrap();
        engine.remember("users", "b").await.unwrap();
        assert!(matches!(
            engine.remember("users", "c").await,
            Err(EngineError::Unavailable(_))
        ));
        let mut members = engine.members("users").await.unwrap();
        members.sort();
        assert_eq!(members, ["a", "b"]);
    }

    #[tokio::test]
    async fn watched_channels_are_never_evicted() {
        let engine = engine(10, 1);
        let _watching = engine.subscribe("watched").await.unwrap();
        let refused = engine.publish("other", "e", data("x")).await;
        assert!(matches!(refused, Err(EngineError::Unavailable(_))));
        assert_eq!(engine.channel_count(), 1);
    }
}
