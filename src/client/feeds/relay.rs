//! What the tabs of one browser tell each other over their
//! `BroadcastChannel`: followers say which feeds they want (and where they
//! stand), the leader relays every event and its connection state.
//!
//! Plain serde types, so they are unit-tested on the host; sending and
//! receiving is the hub's ([`super`]).
//!
//! **Versions.** After a deploy, a tab with the new bundle can share the
//! browser with tabs of the old one. The channel and the Web Lock are named
//! after the protocol's version ([`PROTOCOL`], in [`CHANNEL`]), so tabs of
//! different versions never meet: each version has its own leader and its
//! own stream, and no tab waits on a leader whose messages it cannot read.
//! Change [`PROTOCOL`] whenever a message changes in a way an older tab
//! could not parse (a new variant, a renamed or required field).

use serde::{Deserialize, Serialize};

use crate::wire::feed::{FeedKey, FeedStart};

/// The version of these messages. Version 1 was the unversioned
/// `belfry-feeds` channel.
pub const PROTOCOL: u32 = 2;

/// The `BroadcastChannel` (and Web Lock) name the tabs of one protocol
/// version share: `belfry-feeds/v<PROTOCOL>`.
pub const CHANNEL: &str = "belfry-feeds/v2";

/// One message between tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Relay {
    /// A follower wants these feeds from these positions (`all`: this is
    /// its whole set, replacing what it said before).
    Want {
        /// The follower tab.
        tab: String,
        /// The feeds and where it stands on each.
        feeds: Vec<FeedStart>,
        /// Whether `feeds` is the tab's whole set.
        all: bool,
    },
    /// A follower no longer shows these feeds.
    Drop {
        /// The follower tab.
        tab: String,
        /// The feeds it let go.
        feeds: Vec<FeedKey>,
    },
    /// A follower tab is going away.
    Bye {
        /// The tab.
        tab: String,
    },
    /// A tab became the leader: followers answer with their whole set.
    Leader {
        /// The new leader tab.
        tab: String,
    },
    /// One event of one feed, as the leader's stream received it.
    Event {
        /// The feed.
        feed: FeedKey,
        /// The feed's event name.
        event: String,
        /// Its id on the feed.
        id: Option<String>,
        /// Its payload.
        data: String,
    },
    /// The leader's connection state (`ConnectionState::as_str`).
    State {
        /// The state word.
        state: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_is_named_after_the_protocol_version() {
        assert_eq!(CHANNEL, format!("belfry-feeds/v{PROTOCOL}"));
    }

    #[test]
    fn messages_round_trip_as_tagged_json() {
        let want = Relay::Want {
            tab: "t1".into(),
            feeds: vec![FeedStart {
                feed: FeedKey::Inbox,
                after: Some("5-0".into()),
            }],
            all: true,
        };
        let text = serde_json::to_string(&want).unwrap();
        assert!(text.starts_with(r#"{"t":"want""#), "{text}");
        assert_eq!(serde_json::from_str::<Relay>(&text).unwrap(), want);
        let event = Relay::Event {
            feed: FeedKey::Clock,
            event: "message".into(),
            id: None,
            data: "{}".into(),
        };
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<Relay>(&text).unwrap(), event);
    }
}
