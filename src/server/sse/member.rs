//! A stream for a signed-in member, as an extractor: the session, a
//! permit admitted against the stream limits, and where the client
//! resumes. Responding binds the stream to the session, so it ends when the
//! session does (expiry, sign-out).
//!
//! Owns that glue between sessions and streams and nothing else: a
//! member-only feed handler takes a [`MemberStream`], opens its feed, and
//! hands the frames to [`MemberStream::respond`]. It must not open feeds.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;
use bytes::Bytes;
use futures::Stream;

use super::resume::Resume;
use super::SseHub;
use crate::account::model::UserName;
use crate::engine::EventId;
use crate::server::auth::session::{CurrentSession, Sessions};
use crate::server::auth::session_end::SessionEnds;
use crate::server::auth::token::Session;
use crate::server::error::ApiError;
use crate::server::limits::client_ip::ClientIp;
use crate::server::limits::streams::StreamPermit;

/// An admitted stream for the session's user; 401 without a session, 429
/// or 503 when the stream limits refuse it.
pub struct MemberStream {
    session: Session,
    /// Where the client left off, if anywhere.
    pub resume: Option<EventId>,
    permit: StreamPermit,
    sse: SseHub,
    session_ends: SessionEnds,
}

impl<S> FromRequestParts<S> for MemberStream
where
    Sessions: FromRef<S>,
    SseHub: FromRef<S>,
    SessionEnds: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CurrentSession(session) = CurrentSession::from_request_parts(parts, state).await?;
        let Ok(ip) = ClientIp::from_request_parts(parts, state).await;
        let Ok(Resume(resume)) = Resume::from_request_parts(parts, state).await;
        let sse = SseHub::from_ref(state);
        let permit = sse.admit(Some(&session.user), ip)?;
        Ok(Self {
            session,
            resume,
            permit,
            sse,
            session_ends: SessionEnds::from_ref(state),
        })
    }
}

impl MemberStream {
    /// The signed-in user.
    pub fn user(&self) -> &UserName {
        &self.session.user
    }

    /// The SSE response for `frames`, ending with the session.
    pub fn respond(self, frames: impl Stream<Item = Bytes> + Send + 'static) -> Response {
        let frames = self.session_ends.bind(&self.session, frames);
        self.sse.respond(self.permit, frames)
    }
}
