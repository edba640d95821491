//! `GET /api/sse/tasks/{id}`: the task's current state at once (or,
//! after `Last-Event-ID`, the updates missed), then every update; the
//! stream ends right after a terminal status. Unknown id → 404 at once.
//!
//! Who may watch: a task's owner, when it has one (tasks started from the
//! UI); anyone with the id of a task without an owner (tasks a backend
//! created: the id is the capability). [`task_feed`] is the feed itself,
//! framed for either kind of stream.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::service::{channel, Tasks};
use crate::account::model::UserName;
use crate::engine::{Event, EventId};
use crate::server::error::ApiError;
use crate::server::limits::client_ip::ClientIp;
use crate::server::sse::follow::follow_feed;
use crate::server::sse::framing::Framing;
use crate::server::sse::resume::Resume;
use crate::server::sse::FrameStream;
use crate::server::state::AppState;
use crate::tasks::model::TaskState;

fn is_terminal(event: &Event) -> bool {
    serde_json::from_slice::<TaskState>(&event.data).is_ok_and(|state| state.status.is_terminal())
}

/// Task `id`'s progress from `last_seen` on (or its current state), framed
/// by `framing`, for `viewer`; ends after a terminal status. 404 for an
/// unknown task and for someone else's (so ids cannot be probed).
pub async fn task_feed(
    tasks: Tasks,
    id: &str,
    viewer: Option<&UserName>,
    last_seen: Option<EventId>,
    framing: Framing,
) -> Result<FrameStream, ApiError> {
    let Some((_, current)) = tasks.current(id).await? else {
        return Err(ApiError::NotFound("no such task"));
    };
    let may_watch = current
        .owner
        .as_deref()
        .is_none_or(|owner| viewer.is_some_and(|viewer| viewer.as_str() == owner));
    if !may_watch {
        return Err(ApiError::NotFound("no such task"));
    }
    let engine = tasks.engine().clone();
    let feed = follow_feed(engine, &channel(id), last_seen, 1, framing).await?;
    // Ended already (also when resuming right after the final event).
    Ok(feed.frames_until(current.status.is_terminal(), is_terminal))
}

/// The handler.
pub async fn task_stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    Resume(last_seen): Resume,
) -> Result<Response, ApiError> {
    let viewer = state.sessions.user_of(&headers);
    let permit = state.sse.admit(viewer.as_ref(), ip)?;
    let tasks = state.tasks.clone();
    let feed = task_feed(tasks, &id, viewer.as_ref(), last_seen, Framing::Plain).await?;
    Ok(state.sse.respond(permit, feed))
}
