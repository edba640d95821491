//! Every SSE event name Belfry sends, in one place: the server frames with
//! these and the browser matches on them, so a rename here is a protocol
//! change (keep `docs/` in step). Payload types live with their feature.

/// Inbox: a new notification (payload `StoredNotification`, id = its id).
pub const NOTIFICATION: &str = "notification";
/// Inbox: the read state changed (payload `ReadMarks`).
pub const READ: &str = "read";
/// Inbox: the inbox as of now (payload `InboxSnapshot`).
pub const SNAPSHOT: &str = "snapshot";
/// Inbox: the exact unread count as of an id (payload `UnreadCount`).
pub const UNREAD: &str = "unread";
/// Tasks: a task's state after an update (payload `TaskState`).
pub const PROGRESS: &str = "progress";
/// Activity: one entry of the activity feed (payload `Activity`).
pub const ACTIVITY: &str = "activity";
/// Any feed: the client fell too far behind. The feed ends after it; the
/// client comes back with its last id (and gets a snapshot if that is gone).
pub const RESET: &str = "reset";
/// Any authenticated stream: its session ended (payload `SessionEnd`); the
/// stream's last event.
pub const SESSION_END: &str = "session_end";
/// Multiplexed stream: its first event (payload `Hello`).
pub const HELLO: &str = "hello";
/// Multiplexed stream: a feed could not be opened (payload `FeedError`).
pub const FEED_ERROR: &str = "error";
/// Topics: a topic's definition, as stored (payload `StoredTopic`, in the
/// engine channel `topic-def:<key>`).
pub const TOPIC: &str = "topic";
/// Topics: what one user follows, as stored (payload `Follows`, in the
/// engine channel `follows:<user>`).
pub const FOLLOWS: &str = "follows";
