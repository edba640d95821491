//! `GET /api/sse/progress/{id}`: the task's current state at once (or,
//! after `Last-Event-ID`, the updates missed), then every update; the
//! stream ends right after a terminal status. Unknown id → 404 at once.
//!
//! The task id is the capability: whoever has it may watch.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures::{stream, StreamExt};

use super::service::{channel, Tasks};
use crate::engine::live::{follow, Delivery, Start};
use crate::engine::Event;
use crate::model::task::TaskState;
use crate::server::error::ApiError;
use crate::server::limits::client_ip::ClientIp;
use crate::server::sse::resume::{resume_point, ResumeQuery};
use crate::server::sse::{frame, SseHub};

fn is_terminal(event: &Event) -> bool {
    serde_json::from_slice::<TaskState>(&event.data).is_ok_and(|state| state.status.is_terminal())
}

/// The handler.
pub async fn progress_stream(
    State(tasks): State<Tasks>,
    State(sse): State<SseHub>,
    Path(id): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, ApiError> {
    let permit = sse.admit(None, ip)?;
    let Some((_, current)) = tasks.current(&id).await? else {
        return Err(ApiError::NotFound("no such task"));
    };
    let last_seen = resume_point(&headers, &query);
    let (start, deliveries) = follow(tasks.engine().clone(), &channel(&id), last_seen, 1).await?;
    let opening: Vec<std::sync::Arc<Event>> = match start {
        Start::Snapshot(events) | Start::Replay(events) => events,
    };
    // Ended already (also when resuming right after the final event).
    let ended = current.status.is_terminal() || opening.iter().any(|event| is_terminal(event));
    let opening: Vec<Bytes> = opening.iter().map(|event| event.frame.clone()).collect();
    let live = stream::unfold((deliveries, ended), |(mut deliveries, done)| async move {
        if done {
            return None;
        }
        match deliveries.next().await? {
            Delivery::Event(event) => {
                let end = is_terminal(&event);
                Some((event.frame.clone(), (deliveries, end)))
            }
            Delivery::Reset => Some((
                frame::event(None, Some("reset"), b"{\"reason\":\"lagged\"}"),
                (deliveries, true),
            )),
        }
    });
    Ok(sse.respond(permit, stream::iter(opening).chain(live)))
}
