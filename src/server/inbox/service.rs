//! Inbox operations: publish, mark read, page, and the set of known users.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use tokio::sync::OnceCell;

use super::view::InboxView;
use crate::account::model::UserName;
use crate::engine::{EngineError, EventId, PublishOptions, SharedEngine};
use crate::inbox::model::{
    InboxPage, InboxSnapshot, NotificationContent, ReadMarks, StoredNotification,
};
use crate::server::error::ApiError;
use crate::server::idempotency;
use crate::wire::names;

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

/// The engine channel holding `user`'s read state: one record, replaced on
/// every change (Redis: `belfry:{<user>}:reads`, beside the inbox).
pub fn reads_channel(user: &UserName) -> String {
    format!("reads:{user}")
}

/// Attempts at a read-state change before giving up on contention.
const READ_STATE_ATTEMPTS: usize = 8;

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
    shared: SharedPerUser,
}

/// Events computed once per user and read-state record on this instance,
/// shared by all of that user's streams (the unread count after a read
/// change is not re-folded per stream). Each stream frames them its own way
/// (plain or tagged), which is cheap next to reading the inbox.
#[derive(Clone, Default)]
pub struct SharedPerUser {
    cells: Arc<Mutex<HashMap<String, SharedFrames>>>,
}

/// One unframed event: its name and payload.
pub type Unframed = (&'static str, Bytes);

/// The events of one user at one read-state record, filled once.
type SharedFrames = (EventId, Arc<OnceCell<Vec<Unframed>>>);

/// Users whose shared frames are kept at most (then the cache starts over).
const SHARED_USERS_MAX: usize = 10_000;

impl SharedPerUser {
    /// The events for `user` at read-state record `record`, computed by
    /// `compute` by the first stream that asks, reused by the others.
    pub async fn get<F, Fut>(&self, user: &UserName, record: EventId, compute: F) -> Vec<Unframed>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Vec<Unframed>>,
    {
        let cell = {
            let mut cells = self
                .cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cells.len() >= SHARED_USERS_MAX && !cells.contains_key(user.as_str()) {
                cells.clear();
            }
            let entry = cells
                .entry(user.as_str().to_owned())
                .or_insert_with(|| (record, Arc::default()));
            if entry.0 != record {
                *entry = (record, Arc::default());
            }
            Arc::clone(&entry.1)
        };
        cell.get_or_init(compute).await.clone()
    }
}

impl Inbox {
    /// Inboxes stored in `engine`.
    pub fn new(engine: SharedEngine) -> Self {
        Self {
            engine,
            shared: SharedPerUser::default(),
        }
    }

    /// Frames shared by a user's streams on this instance.
    pub fn shared(&self) -> &SharedPerUser {
        &self.shared
    }

    /// `user`'s current read state (empty when nothing was read).
    pub async fn read_state(&self, user: &UserName) -> Result<ReadMarks, EngineError> {
        let record = self.engine.latest(&reads_channel(user), 1).await?;
        Ok(record
            .last()
            .and_then(|event| serde_json::from_slice::<ReadMarks>(&event.data).ok())
            .unwrap_or_default())
    }

    /// The engine underneath (for streaming).
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// Records that `user` has an inbox (so `"*"` reaches them). At the
    /// in-process engine's bound on users this is a warning, not a
    /// failure: the user's inbox still opens and takes what is sent to
    /// them by name; only broadcasts miss them (`belfry_engine_stored`
    /// beside `belfry_engine_bound` shows it coming).
    pub async fn register(&self, user: &UserName) -> Result<(), EngineError> {
        match self.engine.remember(USERS_SET, user.as_str()).await {
            Err(EngineError::Full(kind)) => {
                tracing::warn!(
                    kind,
                    "the users set is full: a new user is not reached by \"*\" broadcasts"
                );
                Ok(())
            }
            other => other,
        }
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
            .publish_each(&targets, names::NOTIFICATION, payload)
            .await?
            .iter()
            .map(|event| event.id.to_string())
            .collect();
        Ok(ids)
    }

    /// `user`'s whole inbox, folded, with its read state applied.
    pub async fn view(&self, user: &UserName) -> Result<InboxView, EngineError> {
        Ok(self.view_and_state(user).await?.0)
    }

    /// The view, and the id of the read-state record it applied
    /// ([`EventId::ZERO`]: none yet), for a compare-and-set change.
    async fn view_and_state(&self, user: &UserName) -> Result<(InboxView, EventId), EngineError> {
        let events = self.engine.latest(&channel(user), usize::MAX).await?;
        let mut view = InboxView::fold(&events);
        let record = self.engine.latest(&reads_channel(user), 1).await?;
        let record_id = match record.last() {
            Some(event) => {
                match serde_json::from_slice::<ReadMarks>(&event.data) {
                    Ok(marks) => view.apply(&marks),
                    Err(error) => tracing::warn!(%error, "ignoring an unreadable read state"),
                }
                event.id
            }
            None => EventId::ZERO,
        };
        Ok((view, record_id))
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
        for _ in 0..READ_STATE_ATTEMPTS {
            let (mut view, record) = self.view_and_state(user).await?;
            match view.is_read(parsed) {
                None => return Err(ApiError::NotFound("no such notification")),
                Some(true) => return Ok(MarkOutcome::AlreadyRead),
                Some(false) => {}
            }
            view.mark(parsed);
            match self.store_state(user, &view.read_state(), record).await {
                Ok(()) => return Ok(MarkOutcome::Marked),
                Err(EngineError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Unavailable("read state contended".into()).into())
    }

    /// Marks every notification of `user` read; returns how many were unread.
    pub async fn mark_all_read(&self, user: &UserName) -> Result<u32, EngineError> {
        for _ in 0..READ_STATE_ATTEMPTS {
            let (view, record) = self.view_and_state(user).await?;
            let unread = view.unread();
            let Some(newest) = view.newest_notification().filter(|_| unread > 0) else {
                return Ok(unread);
            };
            let all = ReadMarks {
                ids: Vec::new(),
                through: Some(newest.to_string()),
            };
            match self.store_state(user, &all, record).await {
                Ok(()) => return Ok(unread),
                Err(EngineError::Conflict) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(EngineError::Unavailable("read state contended".into()))
    }

    /// Replaces `user`'s read state with `state` if the record is still
    /// `previous` (compare-and-set; [`EngineError::Conflict`] otherwise).
    /// Read state never counts against the inbox's history cap.
    async fn store_state(
        &self,
        user: &UserName,
        state: &ReadMarks,
        previous: EventId,
    ) -> Result<(), EngineError> {
        let payload = serde_json::to_vec(state).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.engine
            .replace(
                &reads_channel(user),
                names::READ,
                Bytes::from(payload),
                previous,
            )
            .await
    }
}
