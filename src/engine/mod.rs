//! The broker seam: where events are stored, announced and replayed.
//!
//! Owns the [`Engine`] trait, the event types every engine speaks
//! ([`event`]), the in-process engine ([`memory`]), the Redis engine
//! ([`redis`]), the slow-subscriber policy shared by all engines
//! ([`live`]) and the counters every engine keeps ([`stats`]). It must not know about HTTP, SSE
//! headers, users or the UI: handlers turn a [`live::Delivery`] stream into a
//! response, and the notification layer decides which channel is whose.
//!
//! # Guarantees every engine gives
//! - **Ordering.** Within one channel, event ids strictly increase in publish
//!   order, and subscribers receive events in id order.
//! - **Store, then announce, atomically.** An event returned by
//!   [`Engine::publish`] is in the channel's history; no subscriber ever sees
//!   an event that [`Engine::history_after`] would not also return (until the
//!   history cap evicts it).
//! - **Replay.** [`Engine::history_after`] returns exactly the retained events
//!   after a known id, or [`History::Gone`] when it cannot prove that nothing
//!   in between was evicted (so the caller sends a fresh snapshot instead).
//!   [`EventId::ZERO`] means "from the beginning": every event, or `Gone` once
//!   any has been evicted.
//! - **Slow subscribers.** Publishing never waits for a subscriber. A
//!   subscriber that falls behind the live buffer is resynced from history by
//!   [`live::follow`]; if history no longer covers the gap it receives
//!   [`live::Delivery::Reset`] and its stream ends, so the client reconnects
//!   and gets a snapshot. Events are never skipped silently.
//! - **Bounded memory.** Each channel keeps at most its history cap; engines
//!   document any further bound (the in-process one bounds the channels of
//!   each kind and the members of each set). A bound refuses what is new
//!   ([`EngineError::Full`]); it never drops what is stored to make room.

pub mod event;
pub mod live;
pub mod memory;
pub mod redis;
pub mod stats;

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::broadcast;

pub use event::{Event, EventId, ParseEventIdError};

/// Why an engine call failed. Handlers map this to 503 (engine unavailable)
/// or 500; the text is for logs, never for clients.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The backing store cannot be reached right now; retrying later may work.
    #[error("engine unavailable: {0}")]
    Unavailable(String),
    /// A bound of the engine is reached for this kind of thing (the words
    /// name it: "inboxes", "users"…); nothing was stored, and nothing was
    /// dropped to make room. Waiting does not help: the operator raises
    /// the bound.
    #[error("full: {0}")]
    Full(&'static str),
    /// The request cannot be served (e.g. an invalid channel name).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A conditional publish found the channel moved on
    /// ([`PublishOptions::expect_last`]); read again and retry or give up.
    #[error("the channel changed meanwhile")]
    Conflict,
    /// Stored, but not acknowledged by the replicas asked for in time
    /// (Redis with `WAIT`): a failover could still lose it. Retrying with
    /// the same idempotency key is safe.
    #[error("stored but not replicated in time: {0}")]
    Unreplicated(String),
}

/// Per-publish bounds and preconditions beyond the engine's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Keep exactly this many latest events in this channel (at most the
    /// engine's cap), e.g. a feed that shows only the latest 50.
    pub cap: Option<usize>,
    /// Publish only if the channel's newest event is this one
    /// ([`EventId::ZERO`]: only if the channel is empty); otherwise fail with
    /// [`EngineError::Conflict`] and store nothing. Compare-and-set across
    /// every instance, for state that must only move forward.
    pub expect_last: Option<EventId>,
    /// Publish at most once per token and channel: if this channel stored
    /// an event under the same token within [`DEDUPE_TTL`], store nothing
    /// and return that event's id (checked before `expect_last`, so a
    /// retried conditional publish that had succeeded is not a conflict).
    /// The check and the store are one atomic step on every engine.
    pub dedupe: Option<DedupeToken>,
}

/// Channels to publish one event to, each with its own options
/// ([`Engine::publish_each`]).
pub type Targets = [(String, PublishOptions)];

/// The events [`Engine::publish_each`] stored, one per target.
pub type Published = Result<Vec<Arc<Event>>, EngineError>;

/// One page of a set ([`Engine::members_page`]): members, and the cursor
/// of the next page (`None`: that was the last).
pub type SetPage = (Vec<String>, Option<String>);

/// An event on its way into a channel ([`Engine::store`]).
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// The event's name.
    pub name: &'a str,
    /// Its payload.
    pub data: Bytes,
    /// Its cap, precondition and dedupe token.
    pub options: PublishOptions,
}

/// Milliseconds since the Unix epoch, now: the clock of event ids
/// (`<ms>-<seq>`), so the age of an event is `now_ms() - id.ms`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How long a channel remembers a [`DedupeToken`].
pub const DEDUPE_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Identifies one logical publish to one channel (e.g. a digest of an
/// `Idempotency-Key` and the recipient), for [`PublishOptions::dedupe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DedupeToken(pub [u8; 16]);

impl std::fmt::Display for DedupeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// The result of asking for a channel's history after an id.
#[derive(Debug, Clone)]
pub enum History {
    /// Every event after the given id, oldest first (possibly none).
    Events(Vec<Arc<Event>>),
    /// The id is unknown or older than what is retained: events may be missing.
    Gone,
}

/// What a channel's live feed carries.
#[derive(Debug, Clone)]
pub enum Live {
    /// The next event of the channel.
    Event(Arc<Event>),
    /// The engine lost its live feed for a while and has it back: events may
    /// have been missed, so every subscriber resyncs from history.
    Resync,
}

/// A live subscription to one channel. Dropping it unsubscribes.
pub struct Subscription {
    receiver: broadcast::Receiver<Live>,
    /// Kept alive for as long as the subscription; engines use it to learn
    /// when the last local subscriber of a channel has gone.
    _lease: Option<Box<dyn Send + Sync>>,
}

impl Subscription {
    /// Wraps a receiver; `lease` is dropped together with the subscription.
    pub fn new(receiver: broadcast::Receiver<Live>, lease: Option<Box<dyn Send + Sync>>) -> Self {
        Self {
            receiver,
            _lease: lease,
        }
    }

    /// The next live event. `Err(Lagged)` means this subscriber fell behind
    /// the live buffer, or the engine's feed was interrupted ([`Live::Resync`]),
    /// and it must resync from history.
    pub async fn recv(&mut self) -> Result<Arc<Event>, broadcast::error::RecvError> {
        match self.receiver.recv().await? {
            Live::Event(event) => Ok(event),
            Live::Resync => Err(broadcast::error::RecvError::Lagged(0)),
        }
    }
}

/// A publish/subscribe broker with per-channel history. See the module docs
/// for the guarantees every implementation must give.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Stores an event (named `name`, payload `data`) in `channel`'s history
    /// and announces it to the channel's live subscribers.
    async fn publish(
        &self,
        channel: &str,
        name: &str,
        data: Bytes,
    ) -> Result<Arc<Event>, EngineError> {
        self.publish_with(channel, name, data, PublishOptions::default())
            .await
    }

    /// [`Engine::publish`] with a per-channel cap and/or a precondition;
    /// counts the outcome in [`Engine::stats`].
    async fn publish_with(
        &self,
        channel: &str,
        name: &str,
        data: Bytes,
        options: PublishOptions,
    ) -> Result<Arc<Event>, EngineError> {
        let draft = Draft {
            name,
            data,
            options,
        };
        let published = self.store(channel, draft).await;
        self.stats().publish_outcome(&published);
        published
    }

    /// Replaces the one record `channel` holds (cap 1) with an event named
    /// `name` carrying `data`, if the record is still `previous`
    /// ([`EventId::ZERO`]: none yet); otherwise [`EngineError::Conflict`]
    /// and nothing changes. Compare-and-set for state kept as one record
    /// (a user's read state, what they follow).
    async fn replace(
        &self,
        channel: &str,
        name: &str,
        data: Bytes,
        previous: EventId,
    ) -> Result<(), EngineError> {
        let options = PublishOptions {
            cap: Some(1),
            expect_last: Some(previous),
            ..PublishOptions::default()
        };
        self.publish_with(channel, name, data, options)
            .await
            .map(|_| ())
    }

    /// What each engine does for [`Engine::publish_with`]: stores and
    /// announces one event (counting is the trait's).
    async fn store(&self, channel: &str, draft: Draft<'_>) -> Result<Arc<Event>, EngineError>;

    /// Publishes one event (the same `name` and `data`) to each of
    /// `targets`, in order, each with its own options; returns the events.
    /// A failure fails the batch, but what was stored stays stored (some
    /// channels may have their event, others not: a retry with the same
    /// dedupe tokens completes it exactly). Engines that talk to a server
    /// send the batch in one round trip, not one per channel; this default
    /// publishes one by one and stops at the first failure.
    async fn publish_each(&self, targets: &Targets, name: &str, data: Bytes) -> Published {
        let mut events = Vec::with_capacity(targets.len());
        for (channel, options) in targets {
            events.push(
                self.publish_with(channel, name, data.clone(), *options)
                    .await?,
            );
        }
        Ok(events)
    }

    /// Deletes `channel` and its history once `after` has passed (from now;
    /// [`Duration::ZERO`](std::time::Duration::ZERO): at once). Used for
    /// state that is worth keeping only for a while, such as a finished
    /// task, and to delete a record (a topic's definition). What becomes
    /// of live subscribers of a deleted channel differs: in-process their
    /// subscription ends, on Redis it stays and hears later publishes; so
    /// delete only channels nobody follows any more.
    async fn expire(&self, channel: &str, after: std::time::Duration) -> Result<(), EngineError>;

    /// Subscribes to `channel`'s live events, from now on.
    async fn subscribe(&self, channel: &str) -> Result<Subscription, EngineError>;

    /// The retained events of `channel` published after `after`.
    async fn history_after(&self, channel: &str, after: EventId) -> Result<History, EngineError>;

    /// The latest `limit` retained events of `channel`, oldest first.
    async fn latest(&self, channel: &str, limit: usize) -> Result<Vec<Arc<Event>>, EngineError>;

    /// Adds `member` to the named set (idempotent). Sets hold small facts such
    /// as "users who have an inbox".
    async fn remember(&self, set: &str, member: &str) -> Result<(), EngineError>;

    /// Every member of the named set, in no particular order.
    async fn members(&self, set: &str) -> Result<Vec<String>, EngineError>;

    /// Removes `member` from the named set (idempotent).
    async fn forget(&self, set: &str, member: &str) -> Result<(), EngineError>;

    /// Adds each of `members` to the named set, as one step; says for each
    /// whether it was new. At a bound ([`EngineError::Full`]) none is added.
    async fn remember_each(&self, set: &str, members: &[String]) -> Result<Vec<bool>, EngineError>;

    /// Removes each of `members` from the named set, as one step; says for
    /// each whether it was there.
    async fn forget_each(&self, set: &str, members: &[String]) -> Result<Vec<bool>, EngineError>;

    /// How many members the named set has.
    async fn count(&self, set: &str) -> Result<u64, EngineError>;

    /// About `limit` members of the named set from `cursor` (`""`: from the
    /// start), and the cursor of the next page (`None`: that was all). A
    /// member that stays in the set while it is paged through is listed
    /// (at least once); cursors are the engine's own and opaque to callers
    /// ([`EngineError::Invalid`] for one it did not make).
    async fn members_page(
        &self,
        set: &str,
        cursor: &str,
        limit: usize,
    ) -> Result<SetPage, EngineError>;

    /// Deletes the named set with every member.
    async fn clear(&self, set: &str) -> Result<(), EngineError>;

    /// Whether the engine can serve requests now (used by `/readyz`).
    async fn ready(&self) -> bool;

    /// The engine's counters for operators (`/metrics`).
    fn stats(&self) -> &stats::EngineStats;
}

/// The engine handle shared across the server.
pub type SharedEngine = Arc<dyn Engine>;
