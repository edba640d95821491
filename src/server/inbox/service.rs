//! Inbox operations: publish, mark read, page, and the set of known users.

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};

use super::view::InboxView;
use crate::engine::{EngineError, EventId, PublishOptions, SharedEngine};
use crate::model::notification::{
    events, InboxPage, InboxSnapshot, NotificationContent, ReadMarks, StoredNotification,
};
use crate::model::user::UserName;
use crate::server::error::ApiError;
use crate::server::idempotency;

/// The engine set listing every user who has an inbox.
pub const USERS_SET: &str = "users";

/// How many notifications a snapshot or a page holds.
pub const PAGE_SIZE: usize = 20;

/// The scope of `POST /api/notifications`'s idempotency keys.
pub const IDEMPOTENCY_SCOPE: &str = "notifications";

/// The engine channel of `user`'s inbox.
pub fn channel(user: &UserName) -> String {
    format!("inbox:{user}")
}

/// Who a notification goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// These users (duplicates are delivered once).
    Users(Vec<UserName>),
    /// Every known user.
    Everyone,
}

/// What marking one notification read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkOutcome {
    /// It was unread and is now read.
    Marked,
    /// It was already read; nothing changed.
    AlreadyRead,
}

/// Inbox operations over the engine; cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    engine: SharedEngine,
}

impl Inbox {
    /// Inboxes stored in `engine`.
    pub fn new(engine: SharedEngine) -> Self {
        Self { engine }
    }

    /// The engine underneath (for streaming).
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// Records that `user` has an inbox (so `"*"` reaches them).
    pub async fn register(&self, user: &UserName) -> Result<(), EngineError> {
        self.engine.remember(USERS_SET, user.as_str()).await
    }

    /// Stores `content` in each recipient's inbox and announces it live.
    /// Returns the new ids, one per recipient, in recipient order.
    pub async fn publish(
        &self,
        recipients: Recipients,
        content: NotificationContent,
    ) -> Result<Vec<String>, EngineError> {
        self.publish_once(recipients, content, None).await
    }

    /// [`Inbox::publish`], at most once per recipient for an idempotency
    /// `key`: a retry after a partial failure stores only what is missing
    /// and returns every recipient's id.
    pub async fn publish_once(
        &self,
        recipients: Recipients,
        content: NotificationContent,
        key: Option<&str>,
    ) -> Result<Vec<String>, EngineError> {
        let users = match recipients {
            Recipients::Users(mut users) => {
                let mut seen = std::collections::HashSet::new();
                users.retain(|user| seen.insert(user.clone()));
                // Named recipients get an inbox; `"*"` only reaches users who
                // already have one, so there is nothing to record for them.
                for user in &users {
                    self.register(user).await?;
                }
                users
            }
            Recipients::Everyone => self
                .engine
                .members(USERS_SET)
                .await?
                .iter()
                .filter_map(|name| UserName::parse(name).ok())
                .collect(),
        };
        let stored = StoredNotification {
            content,
            created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        let payload = Bytes::from(
            serde_json::to_vec(&stored).map_err(|e| EngineError::Invalid(e.to_string()))?,
        );
        let targets: Vec<(String, PublishOptions)> = users
            .iter()
            .map(|user| {
                let channel = channel(user);
                let options = PublishOptions {
                    dedupe: key.map(|key| idempotency::token(IDEMPOTENCY_SCOPE, key, &channel)),
                    ..PublishOptions::default()
                };
                (channel, options)
            })
            .collect();
        // One batch: on Redis, one round trip per thousand recipients.
        let ids: Vec<String> = self
            .engine
            .publish_each(&targets, events::NOTIFICATION, payload)
            .await?
            .iter()
            .map(|event| event.id.to_string())
            .collect();
        Ok(ids)
    }

    /// `user`'s whole inbox, folded.
    pub async fn view(&self, user: &UserName) -> Result<InboxView, EngineError> {
        let events = self.engine.latest(&channel(user), usize::MAX).await?;
        Ok(InboxView::fold(&events))
    }

    /// The latest page and unread count.
    pub async fn snapshot(&self, user: &UserName) -> Result<InboxSnapshot, EngineError> {
        Ok(self.view(user).await?.snapshot(PAGE_SIZE))
    }

    /// Notifications older than `before`, newest first, [`PAGE_SIZE`] at most.
    pub async fn older(&self, user: &UserName, before: &str) -> Result<InboxPage, ApiError> {
        let before = before
            .parse::<EventId>()
            .map_err(|_| ApiError::field("before", "not a notification id"))?;
        Ok(self.view(user).await?.page_before(Some(before), PAGE_SIZE))
    }

    /// Marks notification `id` of `user` read. A notification that is not in
    /// this user's inbox is "not found", whoever else may have it.
    pub async fn mark_read(&self, user: &UserName, id: &str) -> Result<MarkOutcome, ApiError> {
        let parsed = id
            .parse::<EventId>()
            .map_err(|_| ApiError::field("id", "not a notification id"))?;
        match self.view(user).await?.is_read(parsed) {
            None => Err(ApiError::NotFound("no such notification")),
            Some(true) => Ok(MarkOutcome::AlreadyRead),
            Some(false) => {
                let marks = ReadMarks {
                    ids: vec![parsed.to_string()],
                    through: None,
                };
                self.store_marks(user, &marks).await?;
                Ok(MarkOutcome::Marked)
            }
        }
    }

    /// Marks every notification of `user` read; returns how many were unread.
    pub async fn mark_all_read(&self, user: &UserName) -> Result<u32, EngineError> {
        let view = self.view(user).await?;
        let unread = view.unread();
        if let (true, Some(newest)) = (unread > 0, view.newest_notification()) {
            let marks = ReadMarks {
                ids: Vec::new(),
                through: Some(newest.to_string()),
            };
            self.store_marks(user, &marks).await?;
        }
        Ok(unread)
    }

    async fn store_marks(&self, user: &UserName, marks: &ReadMarks) -> Result<(), EngineError> {
        let payload = serde_json::to_vec(marks).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.engine
            .publish(&channel(user), events::READ, Bytes::from(payload))
            .await
            .map(|_| ())
    }
}
