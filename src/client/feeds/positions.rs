//! Where each feed stands: the last event id seen per feed, and whether an
//! arriving event is new.
//!
//! A plain value (no browser calls), unit-tested on the host. The tab uses
//! it to drop events it has already shown (a replay after a reconnect or a
//! leader handover may repeat some), and the connection to resume each feed
//! exactly where it left off.

use std::collections::HashMap;

use crate::wire::feed::FeedKey;
use crate::wire::names::SNAPSHOT;
use crate::wire::EventId;

/// The last event id seen on each feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions {
    last: HashMap<FeedKey, String>,
}

impl Positions {
    /// Whether an event of `feed` named `event` with `id` is new, moving
    /// the feed's position when it is. Events without an id (states, clock
    /// ticks) are always new; a snapshot replaces whatever was known.
    pub fn accept(&mut self, feed: &FeedKey, event: &str, id: Option<&str>) -> bool {
        let Some((id, key)) = id.and_then(|id| Some((id, EventId::from_text(id)?))) else {
            return true;
        };
        let known = self
            .last
            .get(feed)
            .and_then(|last| EventId::from_text(last));
        if event != SNAPSHOT && known.is_some_and(|known| key <= known) {
            return false;
        }
        self.last.insert(feed.clone(), id.to_owned());
        true
    }

    /// Moves `feed`'s position to `id` if that is further (for a record of
    /// what passed, without deciding what is new).
    pub fn advance(&mut self, feed: &FeedKey, id: &str) {
        let Some(key) = EventId::from_text(id) else {
            return;
        };
        let known = self
            .last
            .get(feed)
            .and_then(|last| EventId::from_text(last));
        if known.is_none_or(|known| key > known) {
            self.last.insert(feed.clone(), id.to_owned());
        }
    }

    /// The last id seen on `feed`.
    pub fn get(&self, feed: &FeedKey) -> Option<&str> {
        self.last.get(feed).map(String::as_str)
    }

    /// Forgets `feed` (its next start is a snapshot).
    pub fn forget(&mut self, feed: &FeedKey) {
        self.last.remove(feed);
    }

    /// Whether `a` is an earlier position than `b` (unknown counts as the
    /// earliest).
    pub fn is_before(a: Option<&str>, b: Option<&str>) -> bool {
        match (
            a.and_then(EventId::from_text),
            b.and_then(EventId::from_text),
        ) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a < b,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_new_once_and_a_snapshot_always() {
        let mut positions = Positions::default();
        let inbox = FeedKey::Inbox;
        assert!(positions.accept(&inbox, "notification", Some("5-0")));
        assert!(
            !positions.accept(&inbox, "notification", Some("5-0")),
            "a repeat"
        );
        assert!(
            !positions.accept(&inbox, "notification", Some("4-9")),
            "an older one"
        );
        assert!(positions.accept(&inbox, "notification", Some("6-0")));
        assert!(positions.accept(&inbox, "read", None), "states have no id");
        assert!(
            positions.accept(&inbox, "snapshot", Some("6-0")),
            "a snapshot replaces"
        );
        assert_eq!(positions.get(&inbox), Some("6-0"));
        assert!(
            positions.accept(&FeedKey::Activity, "activity", Some("1-0")),
            "feeds are apart"
        );
        positions.forget(&inbox);
        assert!(positions.accept(&inbox, "notification", Some("1-0")));
    }

    #[test]
    fn advancing_never_goes_back() {
        let mut positions = Positions::default();
        positions.advance(&FeedKey::Clock, "9-0");
        positions.advance(&FeedKey::Clock, "3-0");
        assert_eq!(positions.get(&FeedKey::Clock), Some("9-0"));
        assert!(Positions::is_before(None, Some("1-0")));
        assert!(Positions::is_before(Some("1-0"), Some("1-1")));
        assert!(!Positions::is_before(Some("2-0"), Some("1-1")));
        assert!(!Positions::is_before(Some("2-0"), None));
    }
}
