//! The activity feed: what happened in the app, newest first.
//!
//! Entries are produced by the server only (sign-ins, finished tasks,
//! broadcasts, the simulator); the browser only reads them.

use serde::{Deserialize, Serialize};

/// What kind of thing happened; decides the icon and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    /// Someone signed in for the first time or again.
    UserJoined,
    /// Something was posted (e.g. a broadcast notification).
    PostCreated,
    /// Someone commented.
    CommentAdded,
    /// Someone uploaded a file.
    FileUploaded,
    /// A task finished.
    TaskCompleted,
}

impl ActivityType {
    /// Every type, in display order.
    pub const ALL: [ActivityType; 5] = [
        Self::UserJoined,
        Self::PostCreated,
        Self::CommentAdded,
        Self::FileUploaded,
        Self::TaskCompleted,
    ];

    /// The snake_case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserJoined => "user_joined",
            Self::PostCreated => "post_created",
            Self::CommentAdded => "comment_added",
            Self::FileUploaded => "file_uploaded",
            Self::TaskCompleted => "task_completed",
        }
    }
}

/// One entry of the feed (the payload of an `activity` event; `id` is the
/// event id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The entry's id (`<ms>-<seq>`), increasing. Not stored: it is the
    /// SSE event id, filled in by whoever reads the event.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Who did it.
    pub user: String,
    /// What they did, e.g. "joined".
    pub action: String,
    /// More about it.
    #[serde(default)]
    pub details: String,
    /// When, RFC 3339 UTC.
    pub timestamp: String,
    /// The kind of activity.
    #[serde(rename = "type")]
    pub kind: ActivityType,
}
