//! What an engine stores and delivers: an [`Event`] with its [`EventId`]
//! (a wire type, [`crate::wire::event_id`]).
//!
//! An event is framed for SSE exactly once, when it is created, and that one
//! `Bytes` buffer is shared by every subscriber. This module must not decide
//! who receives an event.

use bytes::Bytes;
use std::sync::OnceLock;

pub use crate::wire::event_id::{EventId, ParseEventIdError};
use crate::wire::frame;

/// One stored event: its id, its SSE event name, its payload (JSON text) and
/// the ready-to-send SSE frame built from them. Two events are equal when
/// their id, name and payload are.
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in its channel.
    pub id: EventId,
    /// The SSE `event:` name the browser listens for.
    pub name: String,
    /// The payload, as the browser receives it in `data:`.
    pub data: Bytes,
    /// `id:`/`event:`/`data:` lines, framed once and shared by all subscribers.
    pub frame: Bytes,
    /// The frame for multiplexed streams, built by the first one that
    /// carries this event and shared by the rest, with the feed it names.
    tagged: OnceLock<(Box<str>, Bytes)>,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.name == other.name && self.data == other.data
    }
}

impl Eq for Event {}

impl Event {
    /// Creates an event and frames it for SSE.
    pub fn new(id: EventId, name: impl Into<String>, data: Bytes) -> Self {
        let name = name.into();
        let frame = frame::event(Some(&id.to_string()), Some(&name), &data);
        Self {
            id,
            name,
            data,
            frame,
            tagged: OnceLock::new(),
        }
    }

    /// This event framed for a multiplexed stream as an event of `feed`
    /// ([`frame::tagged`]). Framed once per event and shared, as long as
    /// every stream names the event's channel by the same feed (they do:
    /// a channel is one feed); another feed gets its own frame.
    pub fn tagged_frame(&self, feed: &str) -> Bytes {
        let build = || {
            frame::tagged(
                feed,
                Some(&self.id.to_string()),
                Some(&self.name),
                &self.data,
            )
        };
        let (tag, frame) = self.tagged.get_or_init(|| (feed.into(), build()));
        if **tag == *feed {
            frame.clone()
        } else {
            build()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_framed_once_with_its_id_and_name() {
        let event = Event::new(
            EventId::new(5, 1),
            "notification",
            Bytes::from_static(b"{\"a\":1}"),
        );
        assert_eq!(
            &event.frame[..],
            b"id: 5-1\nevent: notification\ndata: {\"a\":1}\n\n"
        );
    }
}
