//! `GET /api/sse/activity`: the latest [`SNAPSHOT`] entries on connect (or,
//! after `Last-Event-ID`, exactly the entries missed), then live entries.
//! Every entry goes out as its stored frame. The feed is for signed-in users
//! (it names people and what they work on), so it needs a session, and it
//! ends with that session. [`activity_feed`] is the feed itself, framed for
//! either kind of stream.

use axum::extract::State;
use axum::response::Response;

use super::service::{ActivityFeed, CHANNEL, SNAPSHOT};
use crate::engine::EventId;
use crate::server::error::ApiError;
use crate::server::sse::follow::follow_feed;
use crate::server::sse::framing::Framing;
use crate::server::sse::member::MemberStream;
use crate::server::sse::FrameStream;

/// The feed from `last_seen` on (or its latest entries), framed by
/// `framing`. The caller checks the session.
pub async fn activity_feed(
    feed: ActivityFeed,
    last_seen: Option<EventId>,
    framing: Framing,
) -> Result<FrameStream, ApiError> {
    let engine = feed.engine().clone();
    Ok(follow_feed(engine, CHANNEL, last_seen, SNAPSHOT, framing)
        .await?
        .frames())
}

/// The handler.
pub async fn activity_stream(
    State(feed): State<ActivityFeed>,
    stream: MemberStream,
) -> Result<Response, ApiError> {
    let frames = activity_feed(feed, stream.resume, Framing::Plain).await?;
    Ok(stream.respond(frames))
}
