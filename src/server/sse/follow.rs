//! Following an engine channel as SSE frames: the one helper every feed
//! that lives in the engine (inbox, tasks, activity) starts from.
//!
//! Owns the shape they share: a resume point or a snapshot
//! ([`crate::engine::live::follow`]), the opening events as their stored
//! frames, then each live delivery framed for the stream, with the reset
//! notice ending the feed. It must not know what a feed's events mean;
//! a feed that needs more (the inbox's snapshot and read state) takes the
//! parts and frames its own.

use std::sync::Arc;

use bytes::Bytes;
use futures::{stream, Stream, StreamExt};

use super::framing::Framing;
use super::FrameStream;
use crate::engine::live::{follow, Deliveries, Delivery, Start};
use crate::engine::{Event, EventId, SharedEngine};
use crate::server::error::ApiError;

/// A channel being followed for one stream.
pub struct FollowedFeed {
    /// How the client starts: exactly what it missed, or a snapshot.
    pub start: Start,
    /// The live events from there on.
    pub deliveries: Deliveries,
    /// How this stream frames the feed.
    pub framing: Framing,
}

/// Follows `channel` from `last_seen` (or its latest `snapshot` events),
/// framed by `framing`.
pub async fn follow_feed(
    engine: SharedEngine,
    channel: &str,
    last_seen: Option<EventId>,
    snapshot: usize,
    framing: Framing,
) -> Result<FollowedFeed, ApiError> {
    let (start, deliveries) = follow(engine, channel, last_seen, snapshot).await?;
    Ok(FollowedFeed {
        start,
        deliveries,
        framing,
    })
}

impl FollowedFeed {
    /// The opening events (missed or latest), oldest first.
    pub fn opening(&self) -> &[Arc<Event>] {
        match &self.start {
            Start::Snapshot(events) | Start::Replay(events) => events,
        }
    }

    /// The opening events as their shared frames.
    pub fn opening_frames(&self) -> Vec<Bytes> {
        self.opening()
            .iter()
            .map(|event| self.framing.event(event))
            .collect()
    }

    /// Every live event as its frame; a reset sends the notice and ends it.
    pub fn live_frames(self) -> impl Stream<Item = Bytes> + Send + 'static {
        let framing = self.framing;
        self.deliveries
            .into_stream()
            .map(move |delivery| match delivery {
                Delivery::Event(event) => framing.event(&event),
                Delivery::Reset => framing.reset(),
            })
    }

    /// The opening frames, then live.
    pub fn frames(self) -> FrameStream {
        let opening = self.opening_frames();
        stream::iter(opening).chain(self.live_frames()).boxed()
    }

    /// [`Self::frames`], ending right after the first event `is_last`
    /// accepts (or at once after the opening, when `ended` already).
    pub fn frames_until(self, ended: bool, is_last: fn(&Event) -> bool) -> FrameStream {
        let opening = self.opening_frames();
        let ended = ended || self.opening().iter().any(|event| is_last(event));
        let live = stream::unfold(
            (self.deliveries, ended, self.framing),
            move |(mut deliveries, done, framing)| async move {
                if done {
                    return None;
                }
                match deliveries.next().await? {
                    Delivery::Event(event) => {
                        let end = is_last(&event);
                        Some((framing.event(&event), (deliveries, end, framing)))
                    }
                    Delivery::Reset => Some((framing.reset(), (deliveries, true, framing))),
                }
            },
        );
        stream::iter(opening).chain(live).boxed()
    }
}
