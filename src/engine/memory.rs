//! The in-process engine: history and fan-out inside this one server process.
//!
//! Used when no `REDIS_URL` is configured, so Belfry runs on a bare machine.
//! Owns a map of channels, each a bounded history plus a `tokio::sync::broadcast`
//! sender for live fan-out. It must not be used to share state between server
//! instances (that is the Redis engine's job) and keeps nothing across restarts.
//!
//! # Bounds
//! Each channel keeps its latest `history_cap` events. Channels are counted
//! by **kind**, the part of the name before the first `:` (`inbox`, `reads`,
//! `tasks`, `idempotency`, `feeds`, …), each against `max_channels` on its
//! own, and so are the members of each set against `max_set_members`. A
//! channel counts once it stores an event; one that only has subscribers
//! (an inbox opened before anything was sent to it) costs nothing against
//! the bound and goes when its last subscriber does.
//!
//! At a bound, what is new is refused with [`EngineError::Full`], naming the
//! kind: nothing stored is ever dropped to make room, so no flood of one
//! kind (feed changes, idempotency records, anonymous traffic) can take a
//! user's inbox, read state or task. What expires ([`Engine::expire`]:
//! finished tasks, idempotency records, forwarded feed changes) is swept by
//! time: a queue ordered by expiry hands over a few expired channels on
//! every publish and all of them before a bound refuses, so a bound costs
//! O(log n), never a scan. `/metrics` shows each kind's count
//! (`belfry_engine_stored`) beside its bound (`belfry_engine_bound`).
//!
//! Locking: one `std::sync::Mutex` guards the map. Every critical section is
//! short and never awaits, which is why a blocking mutex beats an async one
//! here; publishing under the lock is what makes ids and fan-out agree on order.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::stats::EngineStats;
use super::{
    DedupeToken, Draft, Engine, EngineError, Event, EventId, History, Live, SetPage, Subscription,
    DEDUPE_TTL,
};

/// Sizes of the in-process engine.
#[derive(Debug, Clone, Copy)]
pub struct MemoryConfig {
    /// Events kept per channel for replay.
    pub history_cap: usize,
    /// Live events buffered per channel before a slow subscriber lags.
    pub live_buffer: usize,
    /// Channels kept at most, per kind (inboxes, read states, tasks, …).
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

/// Expired channels handed over on each publish, at most (the rest wait
/// for the next publish, or for a bound to be reached).
const SWEEP_PER_PUBLISH: usize = 8;

/// What a channel or a set is, for its bound and its metric: the name
/// before the first `:`, in words.
fn kind_of(name: &str) -> &'static str {
    match name.split_once(':').map_or(name, |(kind, _)| kind) {
        "inbox" => "inboxes",
        "reads" => "read states",
        "tasks" => "tasks",
        "idempotency" => "idempotency records",
        "feeds" => "feed channels",
        "sessions" => "session channels",
        "activity" => "activity channels",
        "topic" => "topic channels",
        "topic-def" => "topic definitions",
        "follows" => "follow records",
        "users" => "users",
        "topics" | "open-topics" => "topic keys",
        "followers" => "followers",
        _ => "other channels",
    }
}

/// The in-process [`Engine`].
pub struct MemoryEngine {
    config: MemoryConfig,
    channels: Arc<Mutex<Channels>>,
    sets: Mutex<HashMap<String, BTreeSet<String>>>,
    stats: EngineStats,
}

#[derive(Default)]
struct Channels {
    by_name: HashMap<String, Channel>,
    /// Channels that store something, per kind.
    counts: HashMap<&'static str, usize>,
    /// Channels with an expiry, soonest first: `(when, sequence) → name`.
    expiries: BTreeMap<(Instant, u64), String>,
    sequence: u64,
    stats: Option<EngineStats>,
}

struct Channel {
    history: VecDeque<Arc<Event>>,
    /// The newest id evicted from history, if any: resuming from it is still exact.
    evicted_through: Option<EventId>,
    last_id: Option<EventId>,
    sender: broadcast::Sender<Live>,
    /// When the channel is to be deleted ([`Engine::expire`]), and its key
    /// in [`Channels::expiries`].
    expires_at: Option<(Instant, u64)>,
    /// Dedupe tokens seen, with the id they stored (kept for `DEDUPE_TTL`),
    /// and the same tokens oldest first, to forget them in order.
    dedupe: HashMap<DedupeToken, EventId>,
    dedupe_order: VecDeque<(u64, DedupeToken)>,
    /// The lease the channel's subscriptions share (one per channel, not
    /// one per subscription: a stream holds only a clone of it).
    watch: Weak<WatchLease>,
}

impl Channel {
    fn new(live_buffer: usize) -> Self {
        let (sender, _) = broadcast::channel(live_buffer);
        Self {
            history: VecDeque::new(),
            evicted_through: None,
            last_id: None,
            sender,
            expires_at: None,
            dedupe: HashMap::new(),
            dedupe_order: VecDeque::new(),
            watch: Weak::new(),
        }
    }

    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|(at, _)| at <= now)
    }

    /// Whether the channel counts against its kind's bound.
    fn stores(&self) -> bool {
        self.last_id.is_some()
    }

    /// Forgets dedupe tokens older than [`DEDUPE_TTL`], oldest first.
    fn forget_old_tokens(&mut self, now_ms: u64) {
        let ttl_ms = u64::try_from(DEDUPE_TTL.as_millis()).unwrap_or(u64::MAX);
        while let Some(&(at, token)) = self.dedupe_order.front() {
            if at.saturating_add(ttl_ms) > now_ms {
                break;
            }
            self.dedupe_order.pop_front();
            self.dedupe.remove(&token);
        }
    }
}

/// Removes a channel that only had subscribers once its last one leaves;
/// shared by a channel's subscriptions, so it goes with the last of them.
struct WatchLease {
    channels: Weak<Mutex<Channels>>,
    name: String,
}

impl Drop for WatchLease {
    fn drop(&mut self) {
        // A subscription's receiver is dropped before its lease, and a
        // subscriber that came meanwhile holds a new lease and a receiver.
        if let Some(channels) = self.channels.upgrade() {
            let mut channels = lock(&channels);
            let unused = channels
                .by_name
                .get(&self.name)
                .is_some_and(|channel| !channel.stores() && channel.sender.receiver_count() == 0);
            if unused {
                channels.remove(&self.name);
            }
        }
    }
}

fn lock(channels: &Mutex<Channels>) -> MutexGuard<'_, Channels> {
    // A panic while holding the lock leaves the map consistent (every
    // mutation is a single step), so a poisoned lock is still usable.
    channels
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let stats = EngineStats::default();
        stats.link_up.set(1);
        let channel_bound = i64::try_from(config.max_channels).unwrap_or(i64::MAX);
        for kind in [
            "inboxes",
            "read states",
            "tasks",
            "idempotency records",
            "feed channels",
            "session channels",
            "activity channels",
            "topic channels",
            "topic definitions",
            "follow records",
            "other channels",
        ] {
            stats
                .bounds
                .get_or_create(&vec![("kind", kind)])
                .set(channel_bound);
        }
        stats
            .bounds
            .get_or_create(&vec![("kind", "users")])
            .set(i64::try_from(config.max_set_members).unwrap_or(i64::MAX));
        let channels = Channels {
            stats: Some(stats.clone()),
            ..Channels::default()
        };
        Self {
            config,
            channels: Arc::new(Mutex::new(channels)),
            sets: Mutex::new(HashMap::new()),
            stats,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Channels> {
        lock(&self.channels)
    }

    fn sets(&self) -> MutexGuard<'_, HashMap<String, BTreeSet<String>>> {
        self.sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Shows the size of the users set (the one set with a metric).
    fn count_members(&self, set: &str, members: usize) {
        if set == "users" {
            self.stats
                .stored
                .get_or_create(&vec![("kind", "users")])
                .set(i64::try_from(members).unwrap_or(i64::MAX));
        }
    }

    /// How many channels exist now (for tests and metrics).
    pub fn channel_count(&self) -> usize {
        self.lock().by_name.len()
    }
}

impl Channels {
    /// The channel named `name`, ready to store an event: created if
    /// missing, counted against its kind's bound on its first event, and
    /// refused at that bound once whatever expired has been swept.
    fn storing(&mut self, name: &str, config: &MemoryConfig) -> Result<&mut Channel, EngineError> {
        self.drop_if_expired(name);
        let counted = self.by_name.get(name).is_some_and(Channel::stores);
        if !counted {
            let kind = kind_of(name);
            if self.count(kind) >= config.max_channels {
                self.sweep(Instant::now(), usize::MAX);
                if self.count(kind) >= config.max_channels {
                    return Err(EngineError::Full(kind));
                }
            }
            self.add(kind, 1);
        }
        let channel = self
            .by_name
            .entry(name.to_owned())
            .or_insert_with(|| Channel::new(config.live_buffer));
        Ok(channel)
    }

    fn count(&self, kind: &'static str) -> usize {
        self.counts.get(kind).copied().unwrap_or(0)
    }

    /// Adds `delta` (±1) to `kind`'s count and its gauge.
    fn add(&mut self, kind: &'static str, delta: isize) {
        let count = self.counts.entry(kind).or_default();
        *count = count.saturating_add_signed(delta);
        let now = *count;
        if let Some(stats) = &self.stats {
            stats
                .stored
                .get_or_create(&vec![("kind", kind)])
                .set(i64::try_from(now).unwrap_or(i64::MAX));
        }
    }

    /// Deletes `name` (and its count, and its place in the expiry queue).
    fn remove(&mut self, name: &str) {
        if let Some(channel) = self.by_name.remove(name) {
            if channel.stores() {
                self.add(kind_of(name), -1);
            }
            if let Some(key) = channel.expires_at {
                self.expiries.remove(&key);
            }
        }
    }

    /// Deletes up to `at_most` channels whose expiry has passed.
    fn sweep(&mut self, now: Instant, at_most: usize) {
        for _ in 0..at_most {
            match self.expiries.first_key_value() {
                Some((&(at, sequence), _)) if at <= now => {
                    if let Some(name) = self.expiries.remove(&(at, sequence)) {
                        self.remove(&name);
                    }
                }
                _ => return,
            }
        }
    }

    /// Deletes `name` if its expiry has passed.
    fn drop_if_expired(&mut self, name: &str) {
        if self
            .by_name
            .get(name)
            .is_some_and(|channel| channel.expired(Instant::now()))
        {
            self.remove(name);
        }
    }

    /// The live channel `name`, if it exists and has not expired.
    fn live(&mut self, name: &str) -> Option<&Channel> {
        self.drop_if_expired(name);
        self.by_name.get(name)
    }

    /// Sets (or moves) `name`'s expiry to `at`.
    fn expire_at(&mut self, name: &str, at: Instant) {
        self.sequence += 1;
        let key = (at, self.sequence);
        let Some(channel) = self.by_name.get_mut(name) else {
            return;
        };
        if let Some(old) = channel.expires_at.replace(key) {
            self.expiries.remove(&old);
        }
        self.expiries.insert(key, name.to_owned());
    }
}

#[async_trait]
impl Engine for MemoryEngine {
    async fn store(&self, channel: &str, draft: Draft<'_>) -> Result<Arc<Event>, EngineError> {
        let (name, data, options) = (draft.name, draft.data, draft.options);
        let mut channels = self.lock();
        let config = self.config;
        channels.sweep(Instant::now(), SWEEP_PER_PUBLISH);
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
        let channel = channels.storing(channel, &config)?;
        let cap = options
            .cap
            .map_or(config.history_cap, |cap| cap.clamp(1, config.history_cap));
        let now = super::now_ms();
        let id = EventId::next_after(channel.last_id, now);
        let event = Arc::new(Event::new(id, name, data));
        channel.last_id = Some(id);
        if let Some(token) = options.dedupe {
            channel.forget_old_tokens(now);
            channel.dedupe.insert(token, id);
            channel.dedupe_order.push_back((now, token));
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

    fn stats(&self) -> &EngineStats {
        &self.stats
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, EngineError> {
        let mut channels = self.lock();
        channels.drop_if_expired(channel);
        let live_buffer = self.config.live_buffer;
        let entry = channels
            .by_name
            .entry(channel.to_owned())
            .or_insert_with(|| Channel::new(live_buffer));
        let receiver = entry.sender.subscribe();
        let lease = entry.watch.upgrade().unwrap_or_else(|| {
            let lease = Arc::new(WatchLease {
                channels: Arc::downgrade(&self.channels),
                name: channel.to_owned(),
            });
            entry.watch = Arc::downgrade(&lease);
            lease
        });
        Ok(Subscription::new(receiver, Some(Box::new(lease))))
    }

    async fn expire(&self, channel: &str, after: Duration) -> Result<(), EngineError> {
        let mut channels = self.lock();
        channels.drop_if_expired(channel);
        let at = Instant::now()
            .checked_add(after)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        channels.expire_at(channel, at);
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
        let mut sets = self.sets();
        let members = sets.entry(set.to_owned()).or_default();
        if members.contains(member) {
            return Ok(());
        }
        if members.len() >= self.config.max_set_members {
            return Err(EngineError::Full(kind_of(set)));
        }
        members.insert(member.to_owned());
        self.count_members(set, members.len());
        Ok(())
    }

    async fn members(&self, set: &str) -> Result<Vec<String>, EngineError> {
        let sets = self.sets();
        Ok(sets
            .get(set)
            .map_or_else(Vec::new, |members| members.iter().cloned().collect()))
    }

    async fn forget(&self, set: &str, member: &str) -> Result<(), EngineError> {
        let mut sets = self.sets();
        if let Some(members) = sets.get_mut(set) {
            members.remove(member);
            self.count_members(set, members.len());
        }
        Ok(())
    }

    async fn remember_each(&self, set: &str, members: &[String]) -> Result<Vec<bool>, EngineError> {
        let mut sets = self.sets();
        let present = sets.entry(set.to_owned()).or_default();
        let new: BTreeSet<&String> = members
            .iter()
            .filter(|member| !present.contains(*member))
            .collect();
        if present.len().saturating_add(new.len()) > self.config.max_set_members {
            return Err(EngineError::Full(kind_of(set)));
        }
        let added = members
            .iter()
            .map(|member| present.insert(member.clone()))
            .collect();
        self.count_members(set, present.len());
        Ok(added)
    }

    async fn forget_each(&self, set: &str, members: &[String]) -> Result<Vec<bool>, EngineError> {
        let mut sets = self.sets();
        let Some(present) = sets.get_mut(set) else {
            return Ok(vec![false; members.len()]);
        };
        let removed = members
            .iter()
            .map(|member| present.remove(member))
            .collect();
        self.count_members(set, present.len());
        if present.is_empty() {
            sets.remove(set);
        }
        Ok(removed)
    }

    async fn count(&self, set: &str) -> Result<u64, EngineError> {
        Ok(self.sets().get(set).map_or(0, |members| {
            u64::try_from(members.len()).unwrap_or(u64::MAX)
        }))
    }

    async fn members_page(
        &self,
        set: &str,
        cursor: &str,
        limit: usize,
    ) -> Result<SetPage, EngineError> {
        // The cursor is the last member listed: members are kept in order,
        // so the next page starts after it, whatever changed meanwhile.
        let sets = self.sets();
        let Some(members) = sets.get(set) else {
            return Ok((Vec::new(), None));
        };
        let from = if cursor.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(cursor.to_owned())
        };
        let page: Vec<String> = members
            .range((from, Bound::Unbounded))
            .take(limit.max(1))
            .cloned()
            .collect();
        let next = page
            .last()
            .filter(|last| {
                members
                    .range::<String, _>((Bound::Excluded(*last), Bound::Unbounded))
                    .next()
                    .is_some()
            })
            .cloned();
        Ok((page, next))
    }

    async fn clear(&self, set: &str) -> Result<(), EngineError> {
        let mut sets = self.sets();
        if sets.remove(set).is_some() {
            self.count_members(set, 0);
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
    use crate::engine::PublishOptions;
    use bytes::Bytes;

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
    async fn a_full_kind_refuses_new_channels_and_keeps_every_stored_one() {
        let engine = engine(10, 2);
        engine.publish("inbox:alice", "e", data("x")).await.unwrap();
        engine.publish("inbox:bob", "e", data("x")).await.unwrap();
        let refused = engine.publish("inbox:carol", "e", data("x")).await;
        assert!(
            matches!(refused, Err(EngineError::Full("inboxes"))),
            "{refused:?}"
        );
        assert_eq!(engine.latest("inbox:alice", 10).await.unwrap().len(), 1);
        engine
            .publish("inbox:alice", "e", data("y"))
            .await
            .expect("a stored inbox takes more events at the bound");
        assert_eq!(
            engine
                .stats()
                .stored
                .get_or_create(&vec![("kind", "inboxes")])
                .get(),
            2
        );
    }

    #[tokio::test]
    async fn one_kind_filling_up_never_takes_another_kinds_place() {
        let engine = engine(10, 3);
        engine.publish("inbox:alice", "e", data("x")).await.unwrap();
        for n in 0..3 {
            engine
                .publish(&format!("feeds:{n:012x}"), "e", data("x"))
                .await
                .unwrap();
        }
        assert!(matches!(
            engine.publish("feeds:ffffffffffff", "e", data("x")).await,
            Err(EngineError::Full("feed channels"))
        ));
        assert_eq!(engine.latest("inbox:alice", 10).await.unwrap().len(), 1);
        engine
            .publish("inbox:bob", "e", data("x"))
            .await
            .expect("inboxes have a bound of their own");
    }

    #[tokio::test]
    async fn expired_channels_make_room_before_a_bound_refuses() {
        let engine = engine(10, 1);
        engine.publish("tasks:a", "e", data("x")).await.unwrap();
        engine.expire("tasks:a", Duration::ZERO).await.unwrap();
        engine
            .publish("tasks:b", "e", data("x"))
            .await
            .expect("the expired task's place is free");
        assert!(engine.latest("tasks:a", 10).await.unwrap().is_empty());
        assert_eq!(engine.channel_count(), 1);
    }

    #[tokio::test]
    async fn a_channel_with_only_subscribers_costs_no_place_and_goes_with_them() {
        let engine = engine(10, 1);
        engine.publish("inbox:alice", "e", data("x")).await.unwrap();
        let watching = engine
            .subscribe("inbox:bob")
            .await
            .expect("watching is free");
        let also = engine.subscribe("inbox:bob").await.expect("a second tab");
        assert_eq!(engine.channel_count(), 2);
        drop(watching);
        assert_eq!(engine.channel_count(), 2, "one subscriber is left");
        drop(also);
        assert_eq!(engine.channel_count(), 1, "nothing stored, nobody watching");
    }

    #[tokio::test]
    async fn dedupe_tokens_return_the_first_event() {
        let engine = engine(10, 10);
        let options = PublishOptions {
            dedupe: Some(DedupeToken([7; 16])),
            ..PublishOptions::default()
        };
        let first = engine
            .publish_with("c", "e", data("x"), options)
            .await
            .unwrap();
        let again = engine
            .publish_with("c", "e", data("x"), options)
            .await
            .unwrap();
        assert_eq!(first.id, again.id);
        assert_eq!(engine.latest("c", 10).await.unwrap().len(), 1);
    }
}
