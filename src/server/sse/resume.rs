//! Where a reconnecting client left off: `Last-Event-ID`, or the
//! `last_event_id` query parameter of a client that had to open a new
//! `EventSource` (browsers send the header only on their own retries).
//!
//! Owns reading that position ([`Resume`], an extractor); it must not
//! decide what to replay.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::Deserialize;

use crate::engine::EventId;

/// The optional resume position in the query string.
#[derive(Debug, Default, Deserialize)]
struct ResumeQuery {
    /// The last event id the client saw.
    last_event_id: Option<String>,
}

/// Where the client left off, if anywhere: the `Last-Event-ID` header wins
/// over the query; anything that is not an event id counts as "nowhere".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume(pub Option<EventId>);

impl<S: Send + Sync> FromRequestParts<S> for Resume {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = Query::<ResumeQuery>::try_from_uri(&parts.uri)
            .map(|Query(query)| query)
            .unwrap_or_default();
        Ok(Self(resume_point(&parts.headers, &query)))
    }
}

fn resume_point(headers: &HeaderMap, query: &ResumeQuery) -> Option<EventId> {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .or(query.last_event_id.as_deref())
        .and_then(EventId::from_text)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_header_wins_over_the_query_and_junk_is_ignored() {
        let mut headers = HeaderMap::new();
        let query = ResumeQuery {
            last_event_id: Some("5-0".into()),
        };
        assert_eq!(resume_point(&headers, &query), Some(EventId::new(5, 0)));
        headers.insert("last-event-id", HeaderValue::from_static("7-1"));
        assert_eq!(resume_point(&headers, &query), Some(EventId::new(7, 1)));
        headers.insert("last-event-id", HeaderValue::from_static("junk"));
        assert_eq!(resume_point(&headers, &ResumeQuery::default()), None);
    }
}
