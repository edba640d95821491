//! The multiplexed stream's wire format: one SSE stream carrying several
//! feeds, shared by the server that frames it and the browser that reads it.
//!
//! - A feed is named by a [`FeedKey`]: `inbox`, `activity`, `clock` or
//!   `task:<id>`.
//! - `GET /api/sse/feeds?feeds=<list>` opens the stream; the list is
//!   comma-separated [`FeedStart`]s, each a key with an optional `@<id>`,
//!   the last event id the client saw on that feed (it gets exactly what it
//!   missed; without one, the feed's snapshot).
//! - The stream's first event is [`HELLO`](crate::wire::names::HELLO) with a [`Hello`]: the stream's id,
//!   which `POST /api/feeds/<stream>` takes a [`FeedChange`] for (subscribe,
//!   unsubscribe) without reconnecting.
//! - Every feed event is an unnamed SSE event (no `id:` field: the client
//!   keeps one position per feed) whose data starts with one line
//!   `<feed> <event> <id or ->` ([`TaggedLine`]), followed by the feed's own
//!   payload, exactly as the single-feed endpoint sends it.
//! - A feed that cannot be opened (or is refused) gets one [`FEED_ERROR`](crate::wire::names::FEED_ERROR)
//!   event with a [`FeedError`]; the other feeds go on.
//!
//! This module must not know how feeds are stored or authorised.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Feeds one stream may carry at once.
pub const MAX_FEEDS: usize = 32;

/// One feed a stream can carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeedKey {
    /// The signed-in user's inbox (needs a session).
    Inbox,
    /// The activity feed (needs a session).
    Activity,
    /// The server clock (anyone).
    Clock,
    /// One task's progress (its owner, or anyone with the id of a task
    /// that has no owner).
    Task(String),
}

/// The text is not a feed this server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFeed(pub String);

impl fmt::Display for UnknownFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown feed {:?}: expected inbox, activity, clock or task:<32 hex digits>",
            self.0
        )
    }
}

impl std::error::Error for UnknownFeed {}

fn is_task_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl FromStr for FeedKey {
    type Err = UnknownFeed;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "inbox" => Ok(Self::Inbox),
            "activity" => Ok(Self::Activity),
            "clock" => Ok(Self::Clock),
            _ => match text.strip_prefix("task:") {
                Some(id) if is_task_id(id) => Ok(Self::Task(id.to_owned())),
                _ => Err(UnknownFeed(text.chars().take(80).collect())),
            },
        }
    }
}

impl fmt::Display for FeedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inbox => f.write_str("inbox"),
            Self::Activity => f.write_str("activity"),
            Self::Clock => f.write_str("clock"),
            Self::Task(id) => write!(f, "task:{id}"),
        }
    }
}

impl Serialize for FeedKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FeedKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A feed to start, and where: after `after` (the last event id the client
/// saw on it), or from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedStart {
    /// The feed.
    pub feed: FeedKey,
    /// The last event id seen on it (`<ms>-<seq>`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl FeedStart {
    /// `feed` from its snapshot.
    pub fn fresh(feed: FeedKey) -> Self {
        Self { feed, after: None }
    }
}

impl fmt::Display for FeedStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.after {
            Some(after) => write!(f, "{}@{after}", self.feed),
            None => write!(f, "{}", self.feed),
        }
    }
}

/// A `feeds=` list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedListError {
    /// A feed that does not exist.
    Unknown(UnknownFeed),
    /// A position that is not `<ms>-<seq>`.
    BadPosition(String),
    /// More than [`MAX_FEEDS`] feeds.
    TooMany(usize),
}

impl fmt::Display for FeedListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(unknown) => unknown.fmt(f),
            Self::BadPosition(text) => {
                write!(f, "bad position {text:?}: expected <ms>-<seq> after '@'")
            }
            Self::TooMany(n) => write!(f, "{n} feeds: one stream carries at most {MAX_FEEDS}"),
        }
    }
}

impl std::error::Error for FeedListError {}

fn is_position(text: &str) -> bool {
    text.split_once('-').is_some_and(|(ms, seq)| {
        [ms, seq].iter().all(|part| {
            !part.is_empty() && part.len() <= 20 && part.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

impl FromStr for FeedStart {
    type Err = FeedListError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (feed, after) = match text.split_once('@') {
            Some((feed, after)) => (feed, Some(after)),
            None => (text, None),
        };
        let feed = feed.parse().map_err(FeedListError::Unknown)?;
        let after = match after {
            Some(after) if is_position(after) => Some(after.to_owned()),
            Some(after) => {
                return Err(FeedListError::BadPosition(after.chars().take(40).collect()))
            }
            None => None,
        };
        Ok(Self { feed, after })
    }
}

/// Reads a `feeds=` list (`inbox,task:<id>@<ms>-<seq>,clock`); an empty
/// text is no feed. A feed named twice keeps its last position.
pub fn parse_feed_list(text: &str) -> Result<Vec<FeedStart>, FeedListError> {
    let mut starts: Vec<FeedStart> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let start: FeedStart = part.parse()?;
        starts.retain(|known| known.feed != start.feed);
        starts.push(start);
        if starts.len() > MAX_FEEDS {
            return Err(FeedListError::TooMany(starts.len()));
        }
    }
    Ok(starts)
}

/// Writes a `feeds=` list that [`parse_feed_list`] reads back.
pub fn format_feed_list(starts: &[FeedStart]) -> String {
    starts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The [`HELLO`](crate::wire::names::HELLO) event's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The stream's id, for `POST /api/feeds/<stream>`.
    pub stream: String,
}

/// The body of `POST /api/feeds/<stream>`: feeds to start (or restart at a
/// position) and feeds to stop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedChange {
    /// Feeds to start; one already carried restarts at the given position.
    #[serde(default)]
    pub subscribe: Vec<FeedStart>,
    /// Feeds to stop.
    #[serde(default)]
    pub unsubscribe: Vec<FeedKey>,
}

/// The [`FEED_ERROR`](crate::wire::names::FEED_ERROR) event's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedError {
    /// The HTTP status the single-feed endpoint would have answered.
    pub status: u16,
    /// What went wrong, for people.
    pub error: String,
}

impl FeedError {
    /// Whether asking again later may work (the server or its store was
    /// busy), as opposed to a refusal.
    pub fn is_temporary(&self) -> bool {
        self.status >= 500 || self.status == 429
    }
}

/// The first data line of a feed event: which feed, which event, which id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedLine<'a> {
    /// The feed, as text (a [`FeedKey`]).
    pub feed: &'a str,
    /// The feed's event name (`message` for unnamed ones).
    pub event: &'a str,
    /// The event's id on its feed, when it has one.
    pub id: Option<&'a str>,
    /// The rest of the data: the feed's own payload.
    pub payload: &'a str,
}

impl<'a> TaggedLine<'a> {
    /// The tag line for `feed`, `event` and `id`, without its newline.
    pub fn header(feed: &str, event: Option<&str>, id: Option<&str>) -> String {
        format!(
            "{feed} {} {}",
            event.unwrap_or("message"),
            id.filter(|id| !id.is_empty()).unwrap_or("-")
        )
    }

    /// Splits a feed event's data; `None` for anything else.
    pub fn parse(data: &'a str) -> Option<Self> {
        let (line, payload) = data.split_once('\n').unwrap_or((data, ""));
        let mut parts = line.split(' ');
        let feed = parts.next().filter(|f| !f.is_empty())?;
        let event = parts.next().filter(|e| !e.is_empty())?;
        let id = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            feed,
            event,
            id: (id != "-").then_some(id),
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(n: char) -> String {
        std::iter::repeat_n(n, 32).collect()
    }

    #[test]
    fn feed_keys_round_trip_and_refuse_strangers() {
        for key in [
            FeedKey::Inbox,
            FeedKey::Activity,
            FeedKey::Clock,
            FeedKey::Task(task('a')),
        ] {
            assert_eq!(key.to_string().parse::<FeedKey>(), Ok(key));
        }
        for bad in ["", "Inbox", "task:", "task:xyz", "task:../inbox", "reads"] {
            assert!(bad.parse::<FeedKey>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_feed_list_reads_positions_and_keeps_the_last_of_a_twice_named_feed() {
        let text = format!("inbox@17-2, task:{}@5-0,clock,inbox@18-0", task('b'));
        let starts = parse_feed_list(&text).unwrap();
        assert_eq!(
            starts,
            vec![
                FeedStart {
                    feed: FeedKey::Task(task('b')),
                    after: Some("5-0".into())
                },
                FeedStart::fresh(FeedKey::Clock),
                FeedStart {
                    feed: FeedKey::Inbox,
                    after: Some("18-0".into())
                },
            ]
        );
        assert_eq!(parse_feed_list(&format_feed_list(&starts)).unwrap(), starts);
        assert_eq!(parse_feed_list("").unwrap(), vec![]);
    }

    #[test]
    fn bad_lists_say_what_is_wrong() {
        assert!(matches!(
            parse_feed_list("inbox@yesterday"),
            Err(FeedListError::BadPosition(_))
        ));
        assert!(matches!(
            parse_feed_list("mail"),
            Err(FeedListError::Unknown(_))
        ));
        let many: Vec<String> = (0..=MAX_FEEDS).map(|n| format!("task:{n:032x}")).collect();
        assert!(matches!(
            parse_feed_list(&many.join(",")),
            Err(FeedListError::TooMany(_))
        ));
    }

    #[test]
    fn a_tagged_line_splits_into_feed_event_id_and_payload() {
        let header = TaggedLine::header("inbox", Some("notification"), Some("5-1"));
        let data = format!("{header}\n{{\"a\":1}}\n{{\"b\":2}}");
        let line = TaggedLine::parse(&data).unwrap();
        assert_eq!(line.feed, "inbox");
        assert_eq!(line.event, "notification");
        assert_eq!(line.id, Some("5-1"));
        assert_eq!(line.payload, "{\"a\":1}\n{\"b\":2}");
        let tick = TaggedLine::header("clock", None, None);
        let data = format!("{tick}\n{{}}");
        let line = TaggedLine::parse(&data).unwrap();
        assert_eq!((line.event, line.id), ("message", None));
        assert_eq!(TaggedLine::parse("just text"), None);
    }

    #[test]
    fn a_feed_change_is_strict_json() {
        let change: FeedChange = serde_json::from_str(
            r#"{"subscribe":[{"feed":"clock"},{"feed":"inbox","after":"1-0"}],"unsubscribe":["activity"]}"#,
        )
        .unwrap();
        assert_eq!(change.subscribe.len(), 2);
        assert_eq!(change.unsubscribe, vec![FeedKey::Activity]);
        assert!(serde_json::from_str::<FeedChange>(r#"{"subscribe":[{"feed":"mail"}]}"#).is_err());
        assert!(serde_json::from_str::<FeedChange>(r#"{"sub":[]}"#).is_err());
    }
}
