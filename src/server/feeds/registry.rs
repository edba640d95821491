//! The multiplexed streams open on this instance, by id, and the way
//! changes reach them from any instance.
//!
//! A stream's id is `<instance>.<random>`: the instance part says which
//! server holds it. A change posted to the holder is handed to the stream
//! at once; a change posted to another instance (behind a load balancer)
//! is forwarded through the engine channel `feeds:<instance>`, which each
//! instance follows for itself. Only the stream's owner (the same user, or
//! an anonymous caller for an anonymous stream) may change it; the holder
//! checks that again before applying a forwarded change. Must not open
//! feeds itself ([`super::mux`] does).
//!
//! Forwarding writes to the engine, so it is guarded: an id that is not
//! exactly `<12 hex>.<32 hex>` is a 404 at once, and a change is forwarded
//! only to an instance that is alive. Each instance announces itself every
//! [`ALIVE_EVERY`] in the channel `feeds:<instance>:alive` (one event kept,
//! expiring after [`ALIVE_FOR`]); an instance whose announcement is missing
//! or older than that is gone, and a change for it is a 404 that writes
//! nothing. The in-process engine has one instance, so every other id is a
//! 404. A forwarded change expires [`ALIVE_FOR`] after the last one, so an
//! instance's changes go with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::mailbox::Mailbox;
use super::mux::Control;
use crate::account::model::UserName;
use crate::engine::live::{follow, keep_following};
use crate::engine::{now_ms, Draft, PublishOptions, SharedEngine};
use crate::server::error::ApiError;
use crate::wire::feed::FeedChange;

/// Forwarded changes an instance's channel keeps (only live delivery
/// matters; the history covers a reconnect of the follower).
const FORWARDED_KEPT: usize = 256;
/// The event name of a forwarded change.
const FORWARDED: &str = "change";
/// How often an instance announces that it is alive.
pub const ALIVE_EVERY: Duration = Duration::from_secs(10);
/// How long an announcement (and a forwarded change) counts.
pub const ALIVE_FOR: Duration = Duration::from_secs(30);
/// Hex digits of an instance id, and of a stream's own part.
const INSTANCE_HEX: usize = 12;
const STREAM_HEX: usize = 32;

/// Where a change went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Handed to the stream on this instance.
    Here,
    /// Forwarded to the instance that holds the stream.
    Forwarded,
}

/// A change on its way to another instance.
#[derive(Serialize, Deserialize)]
struct Forwarded {
    stream: String,
    owner: Option<String>,
    change: FeedChange,
}

struct Entry {
    owner: Option<UserName>,
    mailbox: Arc<Mailbox>,
}

/// This instance's multiplexed streams; cheap to clone.
#[derive(Clone)]
pub struct FeedStreams {
    instance: Arc<str>,
    engine: SharedEngine,
    local: Arc<Mutex<HashMap<String, Entry>>>,
}

/// A stream's place in the registry, removed when dropped.
pub struct Registration {
    local: Arc<Mutex<HashMap<String, Entry>>>,
    stream: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.local).remove(&self.stream);
    }
}

fn lock(local: &Mutex<HashMap<String, Entry>>) -> MutexGuard<'_, HashMap<String, Entry>> {
    local
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn random_hex<const N: usize>() -> Result<String, ApiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| {
        tracing::error!(%error, "no randomness for a stream id");
        ApiError::Internal
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn channel(instance: &str) -> String {
    format!("feeds:{instance}")
}

fn alive_channel(instance: &str) -> String {
    format!("feeds:{instance}:alive")
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The instance part of a well-formed stream id.
fn instance_of(stream: &str) -> Option<&str> {
    let (instance, own) = stream.split_once('.')?;
    (is_hex(instance, INSTANCE_HEX) && is_hex(own, STREAM_HEX)).then_some(instance)
}

impl FeedStreams {
    /// The registry of this instance (given a random instance id) over
    /// `engine`, which carries changes between instances.
    pub fn new(engine: SharedEngine) -> Result<Self, ApiError> {
        Ok(Self {
            instance: random_hex::<{ INSTANCE_HEX / 2 }>()?.into(),
            engine,
            local: Arc::default(),
        })
    }

    /// This instance's id (the first part of its streams' ids).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Streams open on this instance now.
    pub fn open_here(&self) -> usize {
        lock(&self.local).len()
    }

    /// Registers a new stream of `owner`: its id, its orders, its place.
    pub fn register(
        &self,
        owner: Option<UserName>,
    ) -> Result<(String, Arc<Mailbox>, Registration), ApiError> {
        let stream = format!("{}.{}", self.instance, random_hex::<{ STREAM_HEX / 2 }>()?);
        let mailbox = Arc::new(Mailbox::default());
        let entry = Entry {
            owner,
            mailbox: Arc::clone(&mailbox),
        };
        lock(&self.local).insert(stream.clone(), entry);
        let registration = Registration {
            local: Arc::clone(&self.local),
            stream: stream.clone(),
        };
        Ok((stream, mailbox, registration))
    }

    /// Applies `change` to stream `stream` on behalf of `requester`.
    /// 404 when no such stream is open for them here (or anywhere, as far
    /// as the id tells).
    pub async fn change(
        &self,
        stream: &str,
        requester: Option<&UserName>,
        change: FeedChange,
    ) -> Result<Delivered, ApiError> {
        let Some(instance) = instance_of(stream) else {
            return Err(ApiError::NotFound("no such stream"));
        };
        if instance == &*self.instance {
            self.apply_here(stream, requester, change)?;
            return Ok(Delivered::Here);
        }
        if !self.is_alive(instance).await? {
            return Err(ApiError::NotFound("no such stream"));
        }
        let forwarded = Forwarded {
            stream: stream.to_owned(),
            owner: requester.map(ToString::to_string),
            change,
        };
        let data = serde_json::to_vec(&forwarded).map_err(|_| ApiError::Internal)?;
        let options = PublishOptions {
            cap: Some(FORWARDED_KEPT),
            ..PublishOptions::default()
        };
        let changes = channel(instance);
        self.engine
            .publish_with(&changes, FORWARDED, data.into(), options)
            .await?;
        self.engine.expire(&changes, ALIVE_FOR).await?;
        Ok(Delivered::Forwarded)
    }

    /// Whether `instance` announced itself within [`ALIVE_FOR`]. Reads
    /// only: asking about an unknown instance creates nothing.
    async fn is_alive(&self, instance: &str) -> Result<bool, ApiError> {
        let latest = self.engine.latest(&alive_channel(instance), 1).await?;
        let fresh_since =
            now_ms().saturating_sub(u64::try_from(ALIVE_FOR.as_millis()).unwrap_or(u64::MAX));
        Ok(latest
            .last()
            .is_some_and(|event| event.id.ms >= fresh_since))
    }

    /// Says this instance is alive: one event in its `alive` channel,
    /// expiring after [`ALIVE_FOR`]. Housekeeping, not a publish: stored
    /// without counting in `belfry_engine_publishes_total`.
    async fn announce(&self) -> Result<(), crate::engine::EngineError> {
        let alive = alive_channel(&self.instance);
        let draft = Draft {
            name: "alive",
            data: bytes::Bytes::from_static(b"{}"),
            options: PublishOptions {
                cap: Some(1),
                ..PublishOptions::default()
            },
        };
        self.engine.store(&alive, draft).await?;
        self.engine.expire(&alive, ALIVE_FOR).await
    }

    /// Announces this instance every [`ALIVE_EVERY`] until `shutdown`, the
    /// first time before it returns (so a change forwarded once start-up is
    /// over finds it alive).
    async fn keep_announcing(&self, shutdown: CancellationToken) {
        if let Err(error) = self.announce().await {
            tracing::warn!(%error, "could not announce this instance for feed changes");
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ALIVE_EVERY);
            every.tick().await;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = every.tick() => {}
                }
                if let Err(error) = this.announce().await {
                    tracing::warn!(%error, "could not announce this instance for feed changes");
                }
            }
        });
    }

    fn apply_here(
        &self,
        stream: &str,
        requester: Option<&UserName>,
        change: FeedChange,
    ) -> Result<(), ApiError> {
        let mailbox = {
            let local = lock(&self.local);
            match local.get(stream) {
                Some(entry) if entry.owner.as_ref() == requester => Arc::clone(&entry.mailbox),
                _ => return Err(ApiError::NotFound("no such stream")),
            }
        };
        let FeedChange {
            subscribe,
            unsubscribe,
        } = change;
        for order in [
            (!unsubscribe.is_empty()).then_some(Control::Unsubscribe(unsubscribe)),
            (!subscribe.is_empty()).then_some(Control::Subscribe(subscribe)),
        ]
        .into_iter()
        .flatten()
        {
            mailbox.post(order).map_err(|_| ApiError::TooManyRequests {
                message: "this stream has too many changes waiting; retry shortly".into(),
                retry_after: 1,
            })?;
        }
        Ok(())
    }

    /// Starts applying changes other instances forward to this one, until
    /// `shutdown`; returns once it listens (so no change sent after start-up
    /// is missed), then follows again after any engine outage, resuming
    /// after the last change heard.
    pub async fn listen(self, shutdown: CancellationToken) {
        self.keep_announcing(shutdown.clone()).await;
        let channel = channel(&self.instance);
        let first = follow(self.engine.clone(), &channel, None, 0)
            .await
            .ok()
            .map(|(_, deliveries)| deliveries);
        let engine = self.engine.clone();
        tokio::spawn(keep_following(
            engine,
            channel,
            first,
            shutdown,
            None,
            move |event| {
                let Ok(forwarded) = serde_json::from_slice::<Forwarded>(&event.data) else {
                    return;
                };
                let owner = forwarded
                    .owner
                    .as_deref()
                    .and_then(|owner| UserName::parse(owner).ok());
                if let Err(error) =
                    self.apply_here(&forwarded.stream, owner.as_ref(), forwarded.change)
                {
                    tracing::debug!(error = %error.message(), "a forwarded feed change found no stream");
                }
            },
        ));
    }
}
