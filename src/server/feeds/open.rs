//! Starting one feed of a multiplexed stream for its viewer.
//!
//! Owns which feed needs what: the inbox and the activity feed need a
//! session; a task is for its owner (or anyone, when it has none); the
//! clock is for anyone. Each feed comes from the module that owns it,
//! framed as a tagged feed. Must not hold per-stream state.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::account::model::UserName;
use crate::engine::EventId;
use crate::server::activity::service::ActivityFeed;
use crate::server::activity::stream::activity_feed;
use crate::server::clock::Clock;
use crate::server::error::ApiError;
use crate::server::inbox::service::Inbox;
use crate::server::inbox::stream::inbox_feed;
use crate::server::sse::framing::Framing;
use crate::server::sse::FrameStream;
use crate::server::tasks::service::Tasks;
use crate::server::tasks::stream::task_feed;
use crate::wire::feed::{FeedKey, FeedStart};

/// The services feeds come from; cheap to clone.
#[derive(Clone)]
pub struct FeedSources {
    /// Per-user inboxes.
    pub inbox: Inbox,
    /// Long-running tasks.
    pub tasks: Tasks,
    /// The activity feed.
    pub activity: ActivityFeed,
    /// The server clock.
    pub clock: Clock,
}

/// Opens feeds for one viewer (a stream's owner).
pub struct FeedOpener {
    sources: FeedSources,
    viewer: Option<UserName>,
}

impl FeedOpener {
    /// Feeds from `sources`, as `viewer` (anonymous: `None`) may see them.
    pub fn new(sources: FeedSources, viewer: Option<UserName>) -> Arc<Self> {
        Arc::new(Self { sources, viewer })
    }

    /// The viewer's identity.
    pub fn viewer(&self) -> Option<&UserName> {
        self.viewer.as_ref()
    }

    fn signed_in(&self) -> Result<UserName, ApiError> {
        self.viewer.clone().ok_or(ApiError::Unauthorized(
            "sign in first: this feed needs a session",
        ))
    }

    /// Starts `start.feed` after `start.after`, tagged with its name.
    pub fn open(
        self: &Arc<Self>,
        start: FeedStart,
    ) -> BoxFuture<'static, Result<FrameStream, ApiError>> {
        let this = Arc::clone(self);
        async move {
            let last_seen = start.after.as_deref().and_then(EventId::from_text);
            let framing = Framing::Tagged(Arc::from(start.feed.to_string()));
            let sources = &this.sources;
            match &start.feed {
                FeedKey::Inbox => {
                    inbox_feed(sources.inbox.clone(), this.signed_in()?, last_seen, framing).await
                }
                FeedKey::Activity => {
                    this.signed_in()?;
                    activity_feed(sources.activity.clone(), last_seen, framing).await
                }
                FeedKey::Clock => Ok(Box::pin(sources.clock.frames(framing)) as FrameStream),
                FeedKey::Task(id) => {
                    task_feed(sources.tasks.clone(), id, this.viewer(), last_seen, framing).await
                }
            }
        }
        .boxed()
    }
}
