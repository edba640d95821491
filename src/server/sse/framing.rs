//! How a feed's events are framed for the stream that carries them: as
//! they are on a single-feed endpoint ([`Framing::Plain`]), or tagged with
//! their feed on a multiplexed stream ([`Framing::Tagged`]).
//!
//! Feed sources frame through this and nothing else, so each feed is
//! written once for both kinds of stream. Engine events keep their shared
//! frames either way ([`crate::engine::Event::tagged_frame`]).

use std::sync::Arc;

use bytes::Bytes;

use crate::engine::Event;
use crate::wire::frame;

/// The framing of one stream's feed.
#[derive(Debug, Clone)]
pub enum Framing {
    /// `id:`/`event:`/`data:` as the single-feed endpoints send.
    Plain,
    /// One feed among several: tagged with this feed's name.
    Tagged(Arc<str>),
}

impl Framing {
    /// A stored event's frame (shared, not copied).
    pub fn event(&self, event: &Event) -> Bytes {
        match self {
            Self::Plain => event.frame.clone(),
            Self::Tagged(feed) => event.tagged_frame(feed),
        }
    }

    /// A frame built for this stream (a snapshot, a state, a notice).
    pub fn own(&self, id: Option<&str>, name: Option<&str>, data: &[u8]) -> Bytes {
        match self {
            Self::Plain => frame::event(id, name, data),
            Self::Tagged(feed) => frame::tagged(feed, id, name, data),
        }
    }

    /// The notice that the client fell too far behind (the feed ends after
    /// it; the client comes back with its last id and gets a snapshot).
    pub fn reset(&self) -> Bytes {
        self.own(
            None,
            Some(crate::wire::names::RESET),
            b"{\"reason\":\"lagged\"}",
        )
    }
}
