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
use crate::server::auth::session::CurrentSession;
use crate::server::auth::session_end::SessionEnds;
use crate::server::error::ApiError;
use crate::server::limits::client_ip::ClientIp;
use crate::server::sse::follow::follow_feed;
use crate::server::sse::framing::Framing;
use crate::server::sse::resume::Resume;
use crate::server::sse::{FrameStream, SseHub};

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
    State(sse): State<SseHub>,
    State(session_ends): State<SessionEnds>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    Resume(last_seen): Resume,
) -> Result<Response, ApiError> {
    let permit = sse.admit(Some(&session.user), ip)?;
    let frames = activity_feed(feed, last_seen, Framing::Plain).await?;
    Ok(sse.respond(permit, session_ends.bind(&session, frames)))
}
