//! `GET /api/sse/progress/{id}`: the task's current state at once (or,
//! after `Last-Event-ID`, the updates missed), then every update; the
//! stream ends right after a terminal status. Unknown id → 404 at once.
//!
//! Who may watch: a task's owner, when it has one (tasks started from the
//! UI); anyone with the id of a task without an owner (tasks a backend
//! created: the id is the capability). [`task_feed`] is the feed itself,
//! framed for either kind of stream.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures::{stream, StreamExt};

use super::service::{channel, Tasks};
use crate::engine::live::{follow, Delivery, Start};
use crate::engine::{Event, EventId};
use crate::model::task::TaskState;
use crate::model::user::UserName;
use crate::server::auth::session::Sessions;
use crate::server::error::ApiError;
use crate::server::limits::client_ip::ClientIp;
use crate::server::sse::framing::Framing;
use crate::server::sse::resume::{resume_point, ResumeQuery};
use crate::server::sse::{FrameStream, SseHub};

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
    let (start, deliveries) = follow(tasks.engine().clone(), &channel(id), last_seen, 1).await?;
    let opening: Vec<std::sync::Arc<Event>> = match start {
        Start::Snapshot(events) | Start::Replay(events) => events,
    };
    // Ended already (also when resuming right after the final event).
    let ended = current.status.is_terminal() || opening.iter().any(|event| is_terminal(event));
    let opening: Vec<Bytes> = opening.iter().map(|event| framing.event(event)).collect();
    let live = stream::unfold(
        (deliveries, ended, framing),
        |(mut deliveries, done, framing)| async move {
            if done {
                return None;
            }
            match deliveries.next().await? {
                Delivery::Event(event) => {
                    let end = is_terminal(&event);
                    Some((framing.event(&event), (deliveries, end, framing)))
                }
                Delivery::Reset => Some((framing.reset(), (deliveries, true, framing))),
            }
        },
    );
    Ok(stream::iter(opening).chain(live).boxed())
}

/// The handler.
pub async fn progress_stream(
    State(tasks): State<Tasks>,
    State(sse): State<SseHub>,
    State(sessions): State<Sessions>,
    Path(id): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, ApiError> {
    let viewer = sessions.user_of(&headers);
    let permit = sse.admit(viewer.as_ref(), ip)?;
    let last_seen = resume_point(&headers, &query);
    let feed = task_feed(tasks, &id, viewer.as_ref(), last_seen, Framing::Plain).await?;
    Ok(sse.respond(permit, feed))
}
