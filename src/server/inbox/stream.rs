//! `GET /api/sse/notifications`: the signed-in user's inbox, live.
//!
//! - Fresh connect: one `snapshot` event (latest 20, unread count) whose SSE
//!   id is the inbox's newest event, then live events.
//! - Resume (`Last-Event-ID` header, or `last_event_id` query parameter for
//!   a client that had to open a new `EventSource`): exactly the stored events
//!   after that id (notifications and read marks, in order), then an `unread`
//!   event with the exact count, then live. An id older than what is retained
//!   gets a fresh snapshot instead.
//! - Live: stored events go out as their shared frame; after each `read`
//!   event an `unread` event follows, so every tab's badge stays exact.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures::{stream, StreamExt};

use super::service::{channel, Inbox, PAGE_SIZE};
use super::view::InboxView;
use crate::engine::live::{follow, Delivery, Start};
use crate::model::notification::events;
use crate::model::user::UserName;
use crate::server::auth::session::CurrentSession;
use crate::server::auth::session_end::SessionEnds;
use crate::server::error::ApiError;
use crate::server::limits::client_ip::ClientIp;
use crate::server::sse::resume::{resume_point, ResumeQuery};
use crate::server::sse::{frame, SseHub};

fn snapshot_frame(view: &InboxView) -> Bytes {
    let snapshot = view.snapshot(PAGE_SIZE);
    let data = serde_json::to_vec(&snapshot).unwrap_or_default();
    let id = view.newest().map(|id| id.to_string());
    frame::event(id.as_deref(), Some(events::SNAPSHOT), &data)
}

fn unread_frame(view: &InboxView) -> Bytes {
    let data = serde_json::to_vec(&view.unread_count()).unwrap_or_default();
    frame::event(None, Some(events::UNREAD), &data)
}

async fn unread_now(inbox: &Inbox, user: &UserName) -> Option<Bytes> {
    match inbox.view(user).await {
        Ok(view) => Some(unread_frame(&view)),
        Err(error) => {
            tracing::warn!(%error, "could not count unread notifications");
            None
        }
    }
}

/// The handler.
pub async fn notifications_stream(
    State(inbox): State<Inbox>,
    State(sse): State<SseHub>,
    State(session_ends): State<SessionEnds>,
    CurrentSession(session): CurrentSession,
    ip: ClientIp,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, ApiError> {
    let permit = sse.admit(Some(&session.user), ip)?;
    let user = session.user.clone();
    // Whoever minted the session, a user who opens their inbox is known
    // from now on, so `"to": "*"` reaches them (one idempotent SADD).
    inbox.register(&user).await?;
    let last_seen = resume_point(&headers, &query);
    let (start, deliveries) = follow(
        inbox.engine().clone(),
        &channel(&user),
        last_seen,
        usize::MAX,
    )
    .await?;
    let opening: Vec<Bytes> = match start {
        Start::Snapshot(events) => vec![snapshot_frame(&InboxView::fold(&events))],
        Start::Replay(events) => {
            let mut frames: Vec<Bytes> = events.iter().map(|event| event.frame.clone()).collect();
            frames.extend(unread_now(&inbox, &user).await);
            frames
        }
    };
    let live = deliveries
        .into_stream()
        .then(move |delivery| {
            let inbox = inbox.clone();
            let user = user.clone();
            async move {
                match delivery {
                    Delivery::Event(event) if event.name == events::READ => {
                        let mut frames = vec![event.frame.clone()];
                        frames.extend(unread_now(&inbox, &user).await);
                        frames
                    }
                    Delivery::Event(event) => vec![event.frame.clone()],
                    // The stream ends after this; the browser reconnects with
                    // its Last-Event-ID and gets a replay or a snapshot.
                    Delivery::Reset => vec![frame::event(
                        None,
                        Some("reset"),
                        b"{\"reason\":\"lagged\"}",
                    )],
                }
            }
        })
        .flat_map(stream::iter);
    let frames = session_ends.bind(&session, stream::iter(opening).chain(live));
    Ok(sse.respond(permit, frames))
}
