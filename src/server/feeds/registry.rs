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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::mailbox::Mailbox;
use super::mux::Control;
use crate::account::model::UserName;
use crate::engine::live::{follow, keep_following};
use crate::engine::{PublishOptions, SharedEngine};
use crate::server::error::ApiError;
use crate::wire::feed::FeedChange;

/// Forwarded changes an instance's channel keeps (only live delivery
/// matters; the history covers a reconnect of the follower).
const FORWARDED_KEPT: usize = 256;
/// The event name of a forwarded change.
const FORWARDED: &str = "change";

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

impl FeedStreams {
    /// The registry of this instance (given a random instance id) over
    /// `engine`, which carries changes between instances.
    pub fn new(engine: SharedEngine) -> Result<Self, ApiError> {
        Ok(Self {
            instance: random_hex::<6>()?.into(),
            engine,
            local: Arc::default(),
        })
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
        let stream = format!("{}.{}", self.instance, random_hex::<16>()?);
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
        let Some((instance, _)) = stream.split_once('.') else {
            return Err(ApiError::NotFound("no such stream"));
        };
        if instance == &*self.instance {
            self.apply_here(stream, requester, change)?;
            return Ok(Delivered::Here);
        }
        if instance.len() != 12 || !instance.bytes().all(|b| b.is_ascii_hexdigit()) {
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
        self.engine
            .publish_with(&channel(instance), FORWARDED, data.into(), options)
            .await?;
        Ok(Delivered::Forwarded)
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
