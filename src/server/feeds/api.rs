//! `GET /api/sse/feeds?feeds=<list>`: one stream carrying many feeds, and
//! `POST /api/feeds/{stream}`: subscribe and unsubscribe while it runs.
//!
//! The stream belongs to the session that opened it (or to nobody, for an
//! anonymous one, which can carry only public feeds) and ends with that
//! session. A malformed `feeds=` list is a 400 before anything opens; a
//! feed the viewer may not see is refused on its own (an `error` event)
//! while the others go on. Counts as one stream against the limits, however
//! many feeds it carries.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;

use super::mux::Mux;
use super::open::{FeedOpener, FeedSources};
use super::registry::FeedStreams;
use crate::account::model::UserName;
use crate::server::auth::session::Sessions;
use crate::server::auth::session_end::SessionEnds;
use crate::server::error::ApiError;
use crate::server::json_body::JsonBody;
use crate::server::limits::client_ip::ClientIp;
use crate::server::limits::rate::RateLimits;
use crate::server::sse::SseHub;
use crate::wire::feed::{parse_feed_list, FeedChange, MAX_FEEDS};

/// The largest `POST /api/feeds/{stream}` body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The query of `GET /api/sse/feeds`.
#[derive(Debug, Default, Deserialize)]
pub struct FeedsQuery {
    /// The feeds to start with, `key[@<last id>]`, comma-separated.
    #[serde(default)]
    pub feeds: String,
}

/// `GET /api/sse/feeds`.
#[allow(clippy::too_many_arguments)]
pub async fn feeds_stream(
    State(sources): State<FeedSources>,
    State(streams): State<FeedStreams>,
    State(sse): State<SseHub>,
    State(sessions): State<Sessions>,
    State(session_ends): State<SessionEnds>,
    ip: ClientIp,
    headers: HeaderMap,
    Query(query): Query<FeedsQuery>,
) -> Result<Response, ApiError> {
    let starts = parse_feed_list(&query.feeds)
        .map_err(|error| ApiError::field("feeds", error.to_string()))?;
    let session = sessions.session_of(&headers);
    let viewer = session.as_ref().map(|session| session.user.clone());
    let permit = sse.admit(viewer.as_ref(), ip)?;
    let (stream, orders, registration) = streams.register(viewer.clone())?;
    let mux = Mux::new(
        FeedOpener::new(sources, viewer),
        &stream,
        starts,
        orders,
        registration,
    );
    Ok(match session {
        Some(session) => sse.respond(permit, session_ends.bind(&session, mux)),
        None => sse.respond(permit, mux.boxed()),
    })
}

/// `POST /api/feeds/{stream}` with a [`FeedChange`]: 202 once handed to
/// the stream (or forwarded to the instance that holds it), 404 for a
/// stream that is not the caller's or not open (or an instance that is
/// not alive), 429 past the feed-change rate of the session or address.
pub async fn change_feeds(
    State(streams): State<FeedStreams>,
    State(sessions): State<Sessions>,
    State(rate): State<RateLimits>,
    ip: ClientIp,
    Path(stream): Path<String>,
    headers: HeaderMap,
    JsonBody(change): JsonBody<FeedChange>,
) -> Result<Response, ApiError> {
    let requester = sessions.user_of(&headers);
    rate.feed_change(ip.0, requester.as_ref().map(UserName::as_str))?;
    if change.subscribe.len() + change.unsubscribe.len() > 2 * MAX_FEEDS {
        return Err(ApiError::field(
            "subscribe",
            format!("at most {MAX_FEEDS} feeds per change"),
        ));
    }
    for (at, start) in change.subscribe.iter().enumerate() {
        if let Some(after) = &start.after {
            if after.parse::<crate::engine::EventId>().is_err() {
                return Err(ApiError::field(
                    format!("subscribe[{at}].after"),
                    "expected the last event id seen, <ms>-<seq>",
                ));
            }
        }
    }
    streams.change(&stream, requester.as_ref(), change).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
