//! Live feeds as Leptos signals: one call per feed for components, one
//! stream per browser underneath.
//!
//! [`use_feed`] hands every event of a feed (inbox, a task, activity, the
//! clock) to a callback while the calling component is mounted (a
//! callback, not a "latest message" signal, so no event is lost when
//! several arrive before the UI reacts) and reports the connection's
//! [`ConnectionState`]. How events arrive is not the component's concern:
//!
//! - `hub` (browser only): this tab's listeners, and whether this tab leads
//!   the browser's connection or follows the tab that does (Web Locks,
//!   `BroadcastChannel`).
//! - `connection` (browser only): the one `EventSource` to
//!   `GET /api/sse/feeds`, its subscribe/unsubscribe calls, reconnects and
//!   per-feed resume.
//! - [`positions`]: the last id per feed; what is new.
//! - [`relay`]: the messages tabs exchange.
//!
//! The wire format is [`crate::wire::feed`]. On the server (SSR) the hook
//! renders as `Connecting` and opens nothing; the browser-only parts are
//! gated here, once.

#[cfg(feature = "hydrate")]
mod connection;
#[cfg(feature = "hydrate")]
mod hub;
pub mod positions;
pub mod relay;

use leptos::prelude::*;

use crate::wire::feed::FeedKey;

/// Where the live connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// The first connection attempt is under way.
    Connecting,
    /// Connected; events flow.
    Open,
    /// The connection dropped; it is being retried.
    Reconnecting,
    /// Not connected, and no attempt is under way right now.
    Closed,
}

impl ConnectionState {
    /// A lower-case word for labels and `data-state` attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
        }
    }

    /// Reads [`ConnectionState::as_str`] back (anything else: connecting).
    pub fn from_word(word: &str) -> Self {
        match word {
            "open" => Self::Open,
            "reconnecting" => Self::Reconnecting,
            "closed" => Self::Closed,
            _ => Self::Connecting,
        }
    }
}

/// One event of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedMessage {
    /// The feed's event name (`message` for unnamed ones, `error` when the
    /// feed was refused: data is a [`crate::wire::feed::FeedError`]).
    pub event: String,
    /// The payload (JSON text).
    pub data: String,
    /// The event's id on its feed, when it has one.
    pub id: Option<String>,
}

/// Follows `feed` while the calling component is mounted: every event goes
/// to `on_message`, once, in order; returns the connection state.
pub fn use_feed(
    feed: FeedKey,
    on_message: impl Fn(FeedMessage) + 'static,
) -> ReadSignal<ConnectionState> {
    let (state, set_state) = signal(ConnectionState::Connecting);
    #[cfg(feature = "hydrate")]
    {
        use std::rc::Rc;

        use send_wrapper::SendWrapper;

        let hub = hub::hub();
        let id = hub.listen(feed.clone(), Rc::new(on_message), set_state);
        let feed = SendWrapper::new(feed);
        on_cleanup(move || hub::hub().unlisten(&feed, id));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (feed, on_message, set_state);
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_from_their_words() {
        for state in [
            ConnectionState::Connecting,
            ConnectionState::Open,
            ConnectionState::Reconnecting,
            ConnectionState::Closed,
        ] {
            assert_eq!(ConnectionState::from_word(state.as_str()), state);
        }
    }
}
