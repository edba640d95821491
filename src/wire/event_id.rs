//! Event ids: positions in a channel, the SSE `id:` field, and what a
//! client sends back in `Last-Event-ID`. The server's engines assign them;
//! the browser only orders and compares them, with these same rules.
//!
//! This module must not know what an event carries.

use std::fmt;
use std::str::FromStr;

/// A position in a channel: milliseconds since the Unix epoch plus a sequence
/// number within that millisecond, the same shape as a Redis Stream entry id,
/// so both engines speak the same ids and the SSE `id:` field is one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId {
    /// Milliseconds since the Unix epoch (never goes backwards per channel).
    pub ms: u64,
    /// Order within the same millisecond.
    pub seq: u64,
}

impl EventId {
    /// The position before every event: replaying after it means "from the
    /// very beginning". No event ever has this id.
    pub const ZERO: EventId = EventId::new(0, 0);

    /// Builds an id from its two parts.
    pub const fn new(ms: u64, seq: u64) -> Self {
        Self { ms, seq }
    }

    /// Parses an id received on the wire; `None` for anything that is not
    /// `<ms>-<seq>` (such ids are ignored, never guessed at).
    pub fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    /// The smallest id strictly greater than both `previous` and `(now_ms, 0)`.
    pub fn next_after(previous: Option<EventId>, now_ms: u64) -> Self {
        match previous {
            Some(prev) if prev.ms >= now_ms => Self::new(prev.ms, prev.seq + 1),
            _ if now_ms == 0 => Self::new(0, 1),
            _ => Self::new(now_ms, 0),
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The text is not an event id of the form `<ms>-<seq>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseEventIdError;

impl fmt::Display for ParseEventIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an event id (expected <ms>-<seq>)")
    }
}

impl std::error::Error for ParseEventIdError {}

impl FromStr for EventId {
    type Err = ParseEventIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ms, seq) = s.trim().split_once('-').ok_or(ParseEventIdError)?;
        let parse = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseEventIdError);
            }
            part.parse::<u64>().map_err(|_| ParseEventIdError)
        };
        Ok(Self::new(parse(ms)?, parse(seq)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = EventId::new(1_700_000_000_123, 7);
        assert_eq!(id.to_string(), "1700000000123-7");
        assert_eq!("1700000000123-7".parse::<EventId>(), Ok(id));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for text in [
            "",
            "12",
            "-1",
            "1-",
            "a-1",
            "1-b",
            "1-2-3",
            "+1-2",
            "99999999999999999999-0",
        ] {
            assert_eq!(text.parse::<EventId>(), Err(ParseEventIdError), "{text:?}");
        }
    }

    #[test]
    fn ids_order_by_time_then_sequence() {
        assert!(EventId::new(1, 9) < EventId::new(2, 0));
        assert!(EventId::new(2, 0) < EventId::new(2, 1));
    }

    #[test]
    fn next_id_increases_even_when_the_clock_goes_back() {
        let first = EventId::next_after(None, 100);
        assert_eq!(first, EventId::new(100, 0));
        let same_ms = EventId::next_after(Some(first), 100);
        assert_eq!(same_ms, EventId::new(100, 1));
        let clock_back = EventId::next_after(Some(same_ms), 50);
        assert_eq!(clock_back, EventId::new(100, 2));
        let later = EventId::next_after(Some(clock_back), 101);
        assert_eq!(later, EventId::new(101, 0));
    }
}
