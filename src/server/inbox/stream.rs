//! `GET /api/sse/notifications`: the signed-in user's inbox, live.
//!
//! - Fresh connect: one `snapshot` event (latest 20, unread count) whose SSE
//!   id is the inbox's newest event, then live events.
//! - Resume (`Last-Event-ID` header, or `last_event_id` query parameter for
//!   a client that had to open a new `EventSource`): exactly the stored
//!   notifications after that id, in order, then the current read state (a
//!   `read` event without an id) and an `unread` event with the exact count,
//!   then live. An id older than what is retained gets a fresh snapshot.
//! - Live: notifications go out as their shared frame. Read state lives
//!   apart from the inbox (`reads:<user>`, one record replaced on each
//!   change, so marking read never evicts a notification); each change goes
//!   out as a `read` event carrying the whole compact state, then `unread`.
//!   Those two frames are computed once per change on this instance and
//!   shared by all of the user's streams.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures::{stream, StreamExt};

use super::service::{channel, reads_channel, Inbox, PAGE_SIZE};
use super::view::InboxView;
use crate::engine::live::{follow, Delivery, Start};
use crate::engine::{EventId, Subscription};
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

/// The current read state (a `read` event without an id: it is not an
/// inbox position) and the exact unread count.
async fn read_frames(inbox: &Inbox, user: &UserName) -> Vec<Bytes> {
    match inbox.view(user).await {
        Ok(view) => {
            let state = serde_json::to_vec(&view.read_state()).unwrap_or_default();
            vec![
                frame::event(None, Some(events::READ), &state),
                unread_frame(&view),
            ]
        }
        Err(error) => {
            tracing::warn!(%error, "could not read the read state");
            Vec::new()
        }
    }
}

/// Each change of the read-state record, by id (`None` after a lag: the
/// latest state is read then, whatever its id).
fn read_changes(reads: Subscription) -> impl futures::Stream<Item = Option<EventId>> + Send {
    stream::unfold(reads, |mut reads| async move {
        match reads.recv().await {
            Ok(event) => Some((Some(event.id), reads)),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Some((None, reads)),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
        }
    })
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
    // Read-state changes first, so none falls between reading the state
    // and following it.
    let reads = inbox.engine().subscribe(&reads_channel(&user)).await?;
    let (start, deliveries) = follow(
        inbox.engine().clone(),
        &channel(&user),
        last_seen,
        usize::MAX,
    )
    .await?;
    let opening: Vec<Bytes> = match start {
        Start::Snapshot(events) => {
            let mut view = InboxView::fold(&events);
            view.apply(&inbox.read_state(&user).await?);
            vec![snapshot_frame(&view)]
        }
        Start::Replay(events) => {
            let mut frames: Vec<Bytes> = events.iter().map(|event| event.frame.clone()).collect();
            frames.extend(read_frames(&inbox, &user).await);
            frames
        }
    };
    let notifications = {
        let (inbox, user) = (inbox.clone(), user.clone());
        deliveries.into_stream().then(move |delivery| {
            let (inbox, user) = (inbox.clone(), user.clone());
            async move {
                match delivery {
                    // Read marks stored in the inbox by older versions.
                    Delivery::Event(event) if event.name == events::READ => {
                        let mut frames = vec![event.frame.clone()];
                        frames.extend(unread_now(&inbox, &user).await);
                        frames
                    }
                    Delivery::Event(event) => vec![event.frame.clone()],
                    // The stream ends after this; the browser reconnects
                    // with its Last-Event-ID and gets a replay or a
                    // snapshot.
                    Delivery::Reset => vec![frame::event(
                        None,
                        Some("reset"),
                        b"{\"reason\":\"lagged\"}",
                    )],
                }
            }
        })
    };
    let read_changes = read_changes(reads).then(move |record| {
        let (inbox, user) = (inbox.clone(), user.clone());
        async move {
            match record {
                Some(record) => {
                    let shared = inbox.shared().clone();
                    shared
                        .get(&user, record, || read_frames(&inbox, &user))
                        .await
                }
                None => read_frames(&inbox, &user).await,
            }
        }
    });
    // When the notifications end (after a reset), the stream ends too,
    // whatever the read changes still have to say.
    let live = stream::select(
        notifications.map(Some).chain(stream::once(async { None })),
        read_changes.map(Some),
    )
    .take_while(|frames| std::future::ready(frames.is_some()))
    .flat_map(|frames| stream::iter(frames.unwrap_or_default()));
    let frames = session_ends.bind(&session, stream::iter(opening).chain(live));
    Ok(sse.respond(permit, frames))
}
