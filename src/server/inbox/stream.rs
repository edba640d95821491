//! `GET /api/sse/inbox`: the signed-in user's inbox, live.
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
//!   Those two events are computed once per change on this instance and
//!   shared by all of the user's streams; each stream frames them its way.
//!
//! [`inbox_feed`] is the feed itself, framed for either kind of stream; the
//! multiplexed stream (`crate::server::feeds`) carries it as `inbox`.

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use futures::{future, stream, StreamExt};

use super::service::{channel, reads_channel, Inbox, Unframed, PAGE_SIZE};
use super::view::InboxView;
use crate::account::model::UserName;
use crate::engine::live::{Delivery, Start};
use crate::engine::{EventId, Subscription};
use crate::server::error::ApiError;
use crate::server::sse::follow::follow_feed;
use crate::server::sse::framing::Framing;
use crate::server::sse::member::MemberStream;
use crate::server::sse::FrameStream;
use crate::wire::names;

fn snapshot_frame(view: &InboxView, framing: &Framing) -> Bytes {
    let snapshot = view.snapshot(PAGE_SIZE);
    let data = serde_json::to_vec(&snapshot).unwrap_or_default();
    // An empty inbox is at `0-0`: resuming from there replays everything
    // published since, so even the first notification is never folded
    // into a snapshot behind the client's back.
    let id = view.newest().unwrap_or(EventId::ZERO).to_string();
    framing.own(Some(&id), Some(names::SNAPSHOT), &data)
}

fn unread_event(view: &InboxView) -> Unframed {
    let data = serde_json::to_vec(&view.unread_count()).unwrap_or_default();
    (names::UNREAD, Bytes::from(data))
}

/// The current read state (a `read` event without an id: it is not an
/// inbox position) and the exact unread count.
async fn read_events(inbox: &Inbox, user: &UserName) -> Vec<Unframed> {
    match inbox.view(user).await {
        Ok(view) => {
            let state = serde_json::to_vec(&view.read_state()).unwrap_or_default();
            vec![(names::READ, Bytes::from(state)), unread_event(&view)]
        }
        Err(error) => {
            tracing::warn!(%error, "could not read the read state");
            Vec::new()
        }
    }
}

fn framed(events: Vec<Unframed>, framing: &Framing) -> Vec<Bytes> {
    events
        .into_iter()
        .map(|(name, data)| framing.own(None, Some(name), &data))
        .collect()
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

async fn unread_now(inbox: &Inbox, user: &UserName) -> Option<Unframed> {
    match inbox.view(user).await {
        Ok(view) => Some(unread_event(&view)),
        Err(error) => {
            tracing::warn!(%error, "could not count unread notifications");
            None
        }
    }
}

/// `user`'s inbox from `last_seen` on (or its snapshot), then live, framed
/// by `framing`. Registers the user (so `"to": "*"` reaches them).
pub async fn inbox_feed(
    inbox: Inbox,
    user: UserName,
    last_seen: Option<EventId>,
    framing: Framing,
) -> Result<FrameStream, ApiError> {
    // Whoever minted the session, a user who opens their inbox is known
    // from now on, so `"to": "*"` reaches them (one idempotent SADD).
    inbox.register(&user).await?;
    // Read-state changes first, so none falls between reading the state
    // and following it.
    let reads = inbox.engine().subscribe(&reads_channel(&user)).await?;
    let engine = inbox.engine().clone();
    let feed = follow_feed(
        engine,
        &channel(&user),
        last_seen,
        usize::MAX,
        framing.clone(),
    )
    .await?;
    let opening: Vec<Bytes> = match &feed.start {
        Start::Snapshot(events) => {
            let mut view = InboxView::fold(events);
            view.apply(&inbox.read_state(&user).await?);
            vec![snapshot_frame(&view, &framing)]
        }
        Start::Replay(_) => {
            let mut frames = feed.opening_frames();
            frames.extend(framed(read_events(&inbox, &user).await, &framing));
            frames
        }
    };
    let deliveries = feed.deliveries;
    // A stream sits idle far longer than it works, and a combinator keeps
    // room for its future inline even while idle: the common cases here are
    // ready at once, and the rare ones (a read mark stored the old way, a
    // read-state change) are boxed, so an idle stream carries a pointer
    // instead of a store round trip's state (docs/architecture.md, "Memory
    // per stream").
    let notifications = {
        let (inbox, user, framing) = (inbox.clone(), user.clone(), framing.clone());
        deliveries
            .into_stream()
            .then(move |delivery| match delivery {
                // Read marks stored in the inbox by older versions.
                Delivery::Event(event) if event.name == names::READ => {
                    let (inbox, user, framing) = (inbox.clone(), user.clone(), framing.clone());
                    future::Either::Left(Box::pin(async move {
                        let mut frames = vec![framing.event(&event)];
                        frames.extend(framed(
                            unread_now(&inbox, &user).await.into_iter().collect(),
                            &framing,
                        ));
                        frames
                    }))
                }
                Delivery::Event(event) => {
                    future::Either::Right(future::ready(vec![framing.event(&event)]))
                }
                // The feed ends after this; the client comes back with its last
                // id and gets a replay or a snapshot.
                Delivery::Reset => future::Either::Right(future::ready(vec![framing.reset()])),
            })
    };
    let read_changes = read_changes(reads).then(move |record| {
        let (inbox, user, framing) = (inbox.clone(), user.clone(), framing.clone());
        Box::pin(async move {
            let events = match record {
                Some(record) => {
                    let shared = inbox.shared().clone();
                    shared
                        .get(&user, record, || read_events(&inbox, &user))
                        .await
                }
                None => read_events(&inbox, &user).await,
            };
            framed(events, &framing)
        })
    });
    // When the notifications end (after a reset), the feed ends too,
    // whatever the read changes still have to say.
    let live = stream::select(
        notifications.map(Some).chain(stream::once(async { None })),
        read_changes.map(Some),
    )
    .take_while(|frames| std::future::ready(frames.is_some()))
    .flat_map(|frames| stream::iter(frames.unwrap_or_default()));
    Ok(stream::iter(opening).chain(live).boxed())
}

/// The handler.
pub async fn inbox_stream(
    State(inbox): State<Inbox>,
    stream: MemberStream,
) -> Result<Response, ApiError> {
    let user = stream.user().clone();
    let feed = inbox_feed(inbox, user, stream.resume, Framing::Plain).await?;
    Ok(stream.respond(feed))
}
