//! Following a channel: history first, then live events, with the
//! slow-subscriber policy every engine shares.
//!
//! Owns the ordering between a replay (or snapshot) and the live feed, the
//! de-duplication across that seam, and what happens when a subscriber lags:
//! resync from history (retried while the engine errs, for about
//! [`RESYNC_PATIENCE`]), or [`Delivery::Reset`] when history no longer
//! covers the gap or the engine stays unreachable. It must not frame
//! responses or know what a channel means.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::stats::LATENCY_SAMPLE;
use super::{EngineError, Event, EventId, History, SharedEngine, Subscription};

/// Followers that resync because the engine's feed was interrupted start
/// their history reads at random moments within this window.
pub const RESYNC_SPREAD: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a resync keeps trying while the engine errs (a Redis Cluster
/// failing over, a reconnect racing the read) before the stream is reset:
/// the first retry after [`RESYNC_RETRY_FIRST`], each wait twice the last,
/// so about 3 s in all. Meanwhile the stream stays open, rather than every
/// stream of the channel reconnecting at once.
pub const RESYNC_PATIENCE: std::time::Duration = std::time::Duration::from_millis(3_100);

/// The first wait between resync attempts; see [`RESYNC_PATIENCE`].
pub const RESYNC_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(100);

/// How a follower starts, decided by [`follow`].
#[derive(Debug, Clone)]
pub enum Start {
    /// The client's last id was known: these are exactly the events it missed.
    Replay(Vec<Arc<Event>>),
    /// No usable last id: the latest retained events, for a fresh snapshot.
    Snapshot(Vec<Arc<Event>>),
}

/// One item of a live feed.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The next event, in id order, never one already delivered.
    Event(Arc<Event>),
    /// The subscriber fell too far behind to be resynced; the feed ends after
    /// this and the client should reconnect (it will get a snapshot).
    Reset,
}

/// Subscribes to `channel` and decides where the client starts.
///
/// The subscription is taken *before* history is read, so an event published
/// in between is seen by both and then dropped by the de-duplication in
/// [`Deliveries`]: nothing is lost and nothing is delivered twice.
/// `snapshot_size` is how many latest events a fresh start gets (0 for none).
pub async fn follow(
    engine: SharedEngine,
    channel: &str,
    last_seen: Option<EventId>,
    snapshot_size: usize,
) -> Result<(Start, Deliveries), EngineError> {
    let subscription = engine.subscribe(channel).await?;
    let replay = match last_seen {
        Some(id) => match engine.history_after(channel, id).await? {
            History::Events(events) => Some((events, id)),
            History::Gone => None,
        },
        None => None,
    };
    let (start, cursor) = match replay {
        Some((events, id)) => {
            let cursor = events.last().map_or(id, |e| e.id);
            (Start::Replay(events), cursor)
        }
        None => {
            // Even an empty snapshot needs a cursor (the newest event now),
            // so a lag later can be resynced from the right place.
            let mut events = engine.latest(channel, snapshot_size.max(1)).await?;
            let cursor = events.last().map_or(EventId::ZERO, |e| e.id);
            if snapshot_size == 0 {
                events.clear();
            }
            (Start::Snapshot(events), cursor)
        }
    };
    let deliveries = Deliveries {
        engine,
        channel: channel.to_owned(),
        subscription,
        cursor,
        backlog: VecDeque::new(),
        finished: false,
        delivered: 0,
    };
    Ok((start, deliveries))
}

/// Follows `channel` until `shutdown`, handing every event to `handle`:
/// the loop each listener of a control channel needs (sign-outs, forwarded
/// feed changes). Starts with `following` when the caller already follows
/// (so it knows it listens before it goes on), else follows from now.
/// After an engine outage or a reset it follows again from the last event
/// handled, replaying what it missed, with a back-off from 100 ms to 5 s.
/// `listening`, when given, says whether it follows right now.
pub async fn keep_following(
    engine: SharedEngine,
    channel: String,
    mut following: Option<Deliveries>,
    shutdown: tokio_util::sync::CancellationToken,
    listening: Option<Arc<std::sync::atomic::AtomicBool>>,
    mut handle: impl FnMut(&Event) + Send,
) {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    let set_listening = |now: bool| {
        if let Some(listening) = &listening {
            listening.store(now, Ordering::Relaxed);
        }
    };
    let mut last_seen: Option<EventId> = None;
    let mut back_off = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        if following.is_none() {
            match follow(engine.clone(), &channel, last_seen, 0).await {
                Ok((start, deliveries)) => {
                    if let Start::Replay(missed) = start {
                        for event in &missed {
                            last_seen = Some(event.id);
                            handle(event);
                        }
                    }
                    following = Some(deliveries);
                }
                Err(error) => tracing::debug!(%error, %channel, "cannot follow yet"),
            }
        }
        if let Some(mut deliveries) = following.take() {
            set_listening(true);
            back_off = Duration::from_millis(100);
            loop {
                let delivery = tokio::select! {
                    () = shutdown.cancelled() => return,
                    delivery = deliveries.next() => delivery,
                };
                match delivery {
                    Some(Delivery::Event(event)) => {
                        last_seen = Some(event.id);
                        handle(&event);
                    }
                    Some(Delivery::Reset) | None => break,
                }
            }
        }
        set_listening(false);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(back_off) => {}
        }
        back_off = (back_off * 2).min(Duration::from_secs(5));
    }
}

/// The live part of a feed: every event after the start, in order, once.
pub struct Deliveries {
    engine: SharedEngine,
    channel: String,
    subscription: Subscription,
    /// The id of the last event the client has ([`EventId::ZERO`]: none yet).
    cursor: EventId,
    /// Events fetched from history during a resync, not yet delivered.
    backlog: VecDeque<Arc<Event>>,
    finished: bool,
    /// Events delivered so far (for sampling the latency histogram).
    delivered: u32,
}

impl Deliveries {
    /// The next delivery, or `None` when the channel closed or a reset was sent.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(event) = self.backlog.pop_front() {
                if self.is_new(&event) {
                    return Some(self.deliver(event));
                }
                continue;
            }
            match self.subscription.recv().await {
                Ok(event) => {
                    if self.is_new(&event) {
                        return Some(self.deliver(event));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(channel = %self.channel, missed, "subscriber lagged; resyncing from history");
                    self.engine.stats().resync(missed == 0);
                    if missed == 0 {
                        // The engine's feed was interrupted (an outage), so
                        // every follower resyncs now: spread them out.
                        // (Boxed: a timer inline would sit in every idle
                        // stream's state for a path taken in outages only.)
                        Box::pin(tokio::time::sleep(crate::jitter::below(RESYNC_SPREAD))).await;
                    }
                    if !self.resync().await {
                        self.finished = true;
                        self.engine.stats().resets.inc();
                        return Some(Delivery::Reset);
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Turns the feed into a `Stream`.
    pub fn into_stream(self) -> impl Stream<Item = Delivery> + Send + 'static {
        futures::stream::unfold(self, |mut feed| async move {
            feed.next().await.map(|delivery| (delivery, feed))
        })
    }

    /// Moves the cursor to `event` and hands it out, observing its
    /// publish-to-delivery latency for one delivery in
    /// [`LATENCY_SAMPLE`] (the first included).
    fn deliver(&mut self, event: Arc<Event>) -> Delivery {
        self.cursor = event.id;
        if self.delivered.is_multiple_of(LATENCY_SAMPLE) {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_millis());
            let late_ms = now_ms.saturating_sub(u128::from(event.id.ms));
            // Milliseconds to seconds: precision to the millisecond is what
            // the id's clock gives.
            self.engine
                .stats()
                .delivery_latency
                .observe(late_ms as f64 / 1000.0);
        }
        self.delivered = self.delivered.wrapping_add(1);
        Delivery::Event(event)
    }

    fn is_new(&self, event: &Event) -> bool {
        event.id > self.cursor
    }

    /// Refills the backlog from history after the cursor; false when the gap
    /// can no longer be covered, or the engine still errs after
    /// [`RESYNC_PATIENCE`].
    async fn resync(&mut self) -> bool {
        let mut waited = std::time::Duration::ZERO;
        let mut wait = RESYNC_RETRY_FIRST;
        loop {
            match self.engine.history_after(&self.channel, self.cursor).await {
                Ok(History::Events(events)) => {
                    self.backlog.extend(events);
                    return true;
                }
                Ok(History::Gone) => return false,
                Err(error) if waited + wait <= RESYNC_PATIENCE => {
                    tracing::debug!(channel = %self.channel, %error, "resync failed; retrying");
                    // Boxed, like the spread above: only outages take it.
                    Box::pin(tokio::time::sleep(wait + crate::jitter::below(wait / 4))).await;
                    waited += wait;
                    wait *= 2;
                }
                Err(error) => {
                    tracing::warn!(channel = %self.channel, %error, "resync failed; resetting the stream");
                    return false;
                }
            }
        }
    }
}
