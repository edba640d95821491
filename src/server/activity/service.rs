//! Recording activity: one engine channel, capped at the latest
//! [`KEEP`] entries, shared by every instance.
//!
//! Recording is best effort for the action that caused it: a sign-in must
//! not fail because the feed could not be written, so callers log and go on.

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};

use crate::activity::model::{Activity, ActivityType};
use crate::engine::{EngineError, PublishOptions, SharedEngine};
use crate::wire::names::ACTIVITY;

/// The engine channel of the feed.
pub const CHANNEL: &str = "activity:all";
/// Entries kept.
pub const KEEP: usize = 50;
/// Entries a fresh connection gets.
pub const SNAPSHOT: usize = 10;

/// The feed; cheap to clone.
#[derive(Clone)]
pub struct ActivityFeed {
    engine: SharedEngine,
}

impl ActivityFeed {
    /// The feed stored in `engine`.
    pub fn new(engine: SharedEngine) -> Self {
        Self { engine }
    }

    /// The engine underneath (for streaming).
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// Appends an entry.
    pub async fn record(
        &self,
        kind: ActivityType,
        user: &str,
        action: &str,
        details: &str,
    ) -> Result<Activity, EngineError> {
        let mut activity = Activity {
            id: String::new(),
            user: user.to_owned(),
            action: action.to_owned(),
            details: details.to_owned(),
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            kind,
        };
        let data =
            serde_json::to_vec(&activity).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let event = self
            .engine
            .publish_with(
                CHANNEL,
                ACTIVITY,
                Bytes::from(data),
                PublishOptions {
                    cap: Some(KEEP),
                    ..PublishOptions::default()
                },
            )
            .await?;
        activity.id = event.id.to_string();
        Ok(activity)
    }

    /// Appends an entry, logging instead of failing: for side effects of
    /// other actions.
    pub async fn note(&self, kind: ActivityType, user: &str, action: &str, details: &str) {
        if let Err(error) = self.record(kind, user, action, details).await {
            tracing::warn!(%error, kind = kind.as_str(), "could not record activity");
        }
    }

    /// Appends one made-up entry (the page's "Simulate activity").
    pub async fn simulate(&self) -> Result<Activity, EngineError> {
        let (kind, action, details) = SAMPLES[random_below(SAMPLES.len())];
        let user = PEOPLE[random_below(PEOPLE.len())];
        self.record(kind, user, action, details).await
    }
}

const PEOPLE: [&str; 6] = ["ada", "grace", "linus", "margaret", "ken", "barbara"];

const SAMPLES: [(ActivityType, &str, &str); 10] = [
    (ActivityType::UserJoined, "joined", "Joined the workspace"),
    (
        ActivityType::PostCreated,
        "created a post",
        "Release notes for v2.4",
    ),
    (
        ActivityType::PostCreated,
        "created a post",
        "Weekly planning",
    ),
    (ActivityType::CommentAdded, "commented", "Looks good to me!"),
    (
        ActivityType::CommentAdded,
        "commented",
        "Can we ship this on Friday?",
    ),
    (
        ActivityType::FileUploaded,
        "uploaded a file",
        "quarterly-report.pdf",
    ),
    (
        ActivityType::FileUploaded,
        "uploaded a file",
        "design-mockups.fig",
    ),
    (
        ActivityType::TaskCompleted,
        "completed a task",
        "Database migration",
    ),
    (
        ActivityType::TaskCompleted,
        "completed a task",
        "Nightly backup",
    ),
    (ActivityType::UserJoined, "joined", "Accepted an invitation"),
];

/// A random index below `n` (n > 0); 0 when randomness is unavailable.
pub fn random_below(n: usize) -> usize {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() || n == 0 {
        return 0;
    }
    (u64::from_le_bytes(bytes) % n as u64) as usize
}
