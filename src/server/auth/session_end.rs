//! Streams end with their session: at the token's end of validity, or when
//! that browser signs out (on whichever instance holds the stream).
//!
//! [`SessionEnds::bind`] wraps a stream's frames: when the session's time is
//! up, or its sign-out is announced, the stream sends one final
//! `session_end` event saying why and ends. The browser then re-checks its
//! session and, if the host app refreshed the cookie, resumes with its last
//! event id, so nothing is lost across the refresh.
//!
//! Sign-outs travel through the engine channel [`CHANNEL`] so every
//! instance hears them; each instance keeps one cancellation token per
//! session that has streams open here, shared by those streams (not one per
//! stream). This module must not know what the streams carry.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{Future, Stream};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::token::{Session, SessionId};
use crate::engine::live::keep_following;
use crate::engine::{EngineError, PublishOptions, SharedEngine};
use crate::server::sse::FrameStream;
use crate::wire::frame;
use crate::wire::names::SESSION_END;
use crate::wire::session_end::SessionEnd;

/// The engine channel announcing sign-outs to every instance.
pub const CHANNEL: &str = "sessions";
/// Sign-outs kept in that channel (only live delivery matters).
const KEPT: usize = 256;
/// The event name of a sign-out announcement.
const SIGNED_OUT: &str = "signed_out";

/// A sign-out announcement: `{"session": "<id>"}` (JSON, as every engine
/// event's data is).
#[derive(serde::Deserialize)]
struct SignedOut {
    session: String,
}

/// This instance's sessions with open streams; cheap to clone.
#[derive(Clone)]
pub struct SessionEnds {
    engine: SharedEngine,
    live: Arc<Mutex<HashMap<SessionId, Watched>>>,
    listening: Arc<AtomicBool>,
    ended: Family<Vec<(&'static str, &'static str)>, Counter>,
}

struct Watched {
    signed_out: CancellationToken,
    streams: usize,
}

impl SessionEnds {
    /// Sign-outs published to and heard from `engine`.
    pub fn new(engine: SharedEngine) -> Self {
        Self {
            engine,
            live: Arc::default(),
            listening: Arc::default(),
            ended: Family::default(),
        }
    }

    /// Streams ended by their session, by `reason` (expired, signed_out),
    /// for `/metrics`.
    pub fn ended_counter(&self) -> Family<Vec<(&'static str, &'static str)>, Counter> {
        self.ended.clone()
    }

    /// Whether this instance hears sign-outs from the others now.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    fn live(&self) -> MutexGuard<'_, HashMap<SessionId, Watched>> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `frames`, ended by a final `session_end` event when `session` expires
    /// or signs out.
    pub fn bind(
        &self,
        session: &Session,
        frames: impl Stream<Item = Bytes> + Send + 'static,
    ) -> SessionBound {
        let signed_out = {
            let mut live = self.live();
            let watched = live.entry(session.id).or_insert_with(|| Watched {
                signed_out: CancellationToken::new(),
                streams: 0,
            });
            watched.streams += 1;
            watched.signed_out.clone().cancelled_owned()
        };
        // Checked arithmetic all the way: a far-future end ("never
        // expires") must not overflow a `SystemTime` or an `Instant`.
        let left = UNIX_EPOCH
            .checked_add(Duration::from_secs(session.valid_until))
            .and_then(|end| end.duration_since(SystemTime::now()).ok())
            .unwrap_or(Duration::ZERO);
        SessionBound {
            frames: Box::pin(frames),
            expiry: Box::pin(tokio::time::sleep(left)),
            signed_out: Box::pin(signed_out),
            watch: Watch {
                ends: self.clone(),
                id: session.id,
            },
            done: false,
        }
    }

    /// Announces that `id` signed out, to every instance; its streams here
    /// end at once even if the engine cannot take the announcement.
    pub async fn sign_out(&self, id: SessionId) -> Result<(), EngineError> {
        self.end_local(id);
        self.engine
            .publish_with(
                CHANNEL,
                SIGNED_OUT,
                Bytes::from(serde_json::json!({ "session": id.to_string() }).to_string()),
                PublishOptions {
                    cap: Some(KEPT),
                    ..PublishOptions::default()
                },
            )
            .await
            .map(|_| ())
    }

    fn end_local(&self, id: SessionId) {
        if let Some(watched) = self.live().get(&id) {
            watched.signed_out.cancel();
        }
    }

    /// Listens for sign-outs from every instance until `shutdown`,
    /// following again (resuming after the last one heard) after an engine
    /// outage, with a back-off from 100 ms to 5 s.
    pub async fn listen(self, shutdown: CancellationToken) {
        let (engine, listening) = (self.engine.clone(), Arc::clone(&self.listening));
        keep_following(
            engine,
            CHANNEL.to_owned(),
            None,
            shutdown,
            Some(listening),
            move |event| {
                let id = serde_json::from_slice::<SignedOut>(&event.data)
                    .ok()
                    .and_then(|news| news.session.parse::<SessionId>().ok());
                if let Some(id) = id {
                    self.end_local(id);
                }
            },
        )
        .await;
    }
}

/// Gives a stream's hold on its session back when the stream is dropped.
struct Watch {
    ends: SessionEnds,
    id: SessionId,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut live = self.ends.live();
        if let Some(watched) = live.get_mut(&self.id) {
            watched.streams -= 1;
            if watched.streams == 0 {
                live.remove(&self.id);
            }
        }
    }
}

/// A stream that ends with its session (see [`SessionEnds::bind`]).
pub struct SessionBound {
    frames: FrameStream,
    expiry: Pin<Box<Sleep>>,
    signed_out: Pin<Box<WaitForCancellationFutureOwned>>,
    watch: Watch,
    done: bool,
}

fn final_frame(why: SessionEnd) -> Bytes {
    let data = serde_json::to_vec(&why).unwrap_or_default();
    frame::event(None, Some(SESSION_END), &data)
}

impl Stream for SessionBound {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match this.frames.as_mut().poll_next(cx) {
            Poll::Ready(Some(frame)) => return Poll::Ready(Some(frame)),
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        let why = if this.signed_out.as_mut().poll(cx).is_ready() {
            SessionEnd::SignedOut
        } else if this.expiry.as_mut().poll(cx).is_ready() {
            SessionEnd::Expired
        } else {
            return Poll::Pending;
        };
        this.done = true;
        let reason = match why {
            SessionEnd::Expired => "expired",
            SessionEnd::SignedOut => "signed_out",
        };
        this.watch
            .ends
            .ended
            .get_or_create(&vec![("reason", reason)])
            .inc();
        Poll::Ready(Some(final_frame(why)))
    }
}
