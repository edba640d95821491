//! The one SSE implementation every endpoint uses.
//!
//! Owns the response headers, the `retry:` hint, heartbeats, ending streams
//! on shutdown, admitting streams against the open-stream limits, and
//! counting open streams. Endpoints take a permit ([`SseHub::admit`]), then
//! hand [`SseHub::respond`] the permit and a stream of ready-framed `Bytes`
//! ([`crate::wire::frame`]) and nothing else; this module must not know what the events
//! mean.

pub mod follow;
pub mod framing;
pub mod member;
pub mod resume;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Future, Stream, StreamExt};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::account::model::UserName;
use crate::server::error::ApiError;
use crate::server::limits::client_ip::ClientIp;
use crate::server::limits::streams::{StreamLimits, StreamPermit};
use crate::wire::frame;

/// A boxed stream of SSE frames, as endpoints produce them.
pub type FrameStream = Pin<Box<dyn Stream<Item = Bytes> + Send + 'static>>;

/// Settings and counters shared by every SSE response of one server.
#[derive(Clone)]
pub struct SseHub {
    inner: Arc<HubInner>,
}

/// Cloned only while a hub is configured (`with_*`), before any stream;
/// the gauges and counters inside share their values across clones.
#[derive(Clone)]
struct HubInner {
    heartbeat: Duration,
    retry_ms: u64,
    drain_window: Duration,
    retry_hint: Bytes,
    heartbeat_frame: Bytes,
    shutdown: CancellationToken,
    limits: StreamLimits,
    open: Gauge,
    opened: Counter,
    counters: StreamCounters,
}

/// What happens to streams, for `/metrics`; clones share the values.
#[derive(Clone, Default)]
pub struct StreamCounters {
    /// Streams closed, by `reason`: client_gone (the connection went away,
    /// including write timeouts), completed (the feed ended: a finished
    /// task, a reset, a session end), drain (shutdown).
    pub closed: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Streams refused, by `reason`: limit (429) or draining (503).
    pub refused: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Frames handed to connections (events, hints and heartbeats).
    pub frames: Counter,
}

impl SseHub {
    /// A hub whose streams send a heartbeat every `heartbeat`, advise clients
    /// to wait `retry` before reconnecting, and end when `shutdown` fires.
    pub fn new(heartbeat: Duration, retry: Duration, shutdown: CancellationToken) -> Self {
        let retry_ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
        Self {
            inner: Arc::new(HubInner {
                heartbeat: heartbeat.max(Duration::from_millis(10)),
                retry_ms,
                drain_window: Duration::ZERO,
                retry_hint: frame::retry(retry_ms),
                heartbeat_frame: frame::comment("ping"),
                shutdown,
                limits: StreamLimits::default(),
                open: Gauge::default(),
                opened: Counter::default(),
                counters: StreamCounters::default(),
            }),
        }
    }

    /// The same hub, admitting streams against `limits` (the default hub
    /// admits every stream).
    pub fn with_limits(mut self, limits: StreamLimits) -> Self {
        Arc::make_mut(&mut self.inner).limits = limits;
        self
    }

    /// The same hub, closing its open streams at random moments spread
    /// over `window` once the stop token fires (the default closes them at
    /// once), so their clients do not reconnect in one herd.
    pub fn with_drain_window(mut self, window: Duration) -> Self {
        Arc::make_mut(&mut self.inner).drain_window = window;
        self
    }

    /// A place for one more stream of `user` (anonymous: `None`) from
    /// `ip`, or 429 when a limit is reached, or 503 while draining. Take it
    /// before doing any work for the stream.
    pub fn admit(&self, user: Option<&UserName>, ip: ClientIp) -> Result<StreamPermit, ApiError> {
        let refused = |reason| {
            self.inner
                .counters
                .refused
                .get_or_create(&vec![("reason", reason)])
                .inc();
        };
        if self.is_draining() {
            refused("draining");
            return Err(ApiError::Unavailable {
                message: "this server is shutting down; reconnect to another".into(),
                retry_after: Some(1),
            });
        }
        self.inner
            .limits
            .admit(user, ip.0)
            .inspect_err(|_| refused("limit"))
    }

    /// The stream counters (registered with the metrics registry).
    pub fn counters(&self) -> StreamCounters {
        self.inner.counters.clone()
    }

    /// Whether the stop token fired: streams are being drained.
    pub fn is_draining(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// The gauge of streams open now (registered with the metrics registry).
    pub fn open_gauge(&self) -> Gauge {
        self.inner.open.clone()
    }

    /// The counter of streams opened since start.
    pub fn opened_counter(&self) -> Counter {
        self.inner.opened.clone()
    }

    /// How many SSE streams are open now.
    pub fn open_streams(&self) -> i64 {
        self.inner.open.get()
    }

    /// The SSE response for `frames`: headers, a `retry:` hint first, then the
    /// frames with heartbeats in idle gaps, until `frames` ends, the client
    /// goes away (the body is dropped) or the server shuts down. The permit
    /// is held until then.
    pub fn respond(
        &self,
        permit: StreamPermit,
        frames: impl Stream<Item = Bytes> + Send + 'static,
    ) -> Response {
        let body = SseBody::new(Arc::clone(&self.inner), permit, frames.boxed());
        (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache, no-transform"),
                ),
                (
                    header::HeaderName::from_static("x-accel-buffering"),
                    HeaderValue::from_static("no"),
                ),
            ],
            Body::from_stream(body.map(Ok::<_, Infallible>)),
        )
            .into_response()
    }
}

/// The body of one SSE response. Small on purpose: one of these lives per
/// open stream.
///
/// Two choices keep fan-out cheap with thousands of streams: a frame does
/// not reschedule the heartbeat timer (that would take the runtime's timer
/// lock once per event per stream); instead a tick after a frame is skipped,
/// so an idle stream hears a ping within one to two heartbeat periods. And
/// each stream waits on its own child of the stop token, so polling it
/// never contends on one lock shared by every stream.
///
/// Draining: when the stop token fires, the stream picks a random moment
/// within the drain window (its timer is allocated only then), and at that
/// moment sends a `retry:` hint between one and two reconnect delays, then
/// ends.
struct SseBody {
    hub: Arc<HubInner>,
    first: Option<Bytes>,
    frames: FrameStream,
    heartbeat: Interval,
    /// A frame went out since the last heartbeat tick.
    sent_since_tick: bool,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    /// When the stream ends during a drain (set once the stop token fired).
    drain_at: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Frames handed out but not yet added to the shared counter (added
    /// when the stream goes idle, so a burst costs one atomic add).
    unflushed: u32,
    /// Why the stream ended (`None` while it runs: dropped then means the
    /// client went away).
    ended: Option<&'static str>,
    done: bool,
    /// The stream's place under the limits, given back on drop.
    _permit: StreamPermit,
}

impl SseBody {
    fn new(hub: Arc<HubInner>, permit: StreamPermit, frames: FrameStream) -> Self {
        let mut heartbeat = tokio::time::interval_at(Instant::now() + hub.heartbeat, hub.heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        hub.open.inc();
        hub.opened.inc();
        Self {
            first: Some(hub.retry_hint.clone()),
            shutdown: Box::pin(hub.shutdown.child_token().cancelled_owned()),
            hub,
            frames,
            heartbeat,
            sent_since_tick: false,
            drain_at: None,
            unflushed: 0,
            ended: None,
            done: false,
            _permit: permit,
        }
    }
}

impl SseBody {
    fn flush_frames(&mut self) {
        if self.unflushed > 0 {
            self.hub.counters.frames.inc_by(u64::from(self.unflushed));
            self.unflushed = 0;
        }
    }

    fn end(&mut self, why: &'static str) {
        self.done = true;
        self.ended = Some(why);
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        self.hub.open.dec();
        self.flush_frames();
        let why = self.ended.unwrap_or("client_gone");
        self.hub
            .counters
            .closed
            .get_or_create(&vec![("reason", why)])
            .inc();
    }
}

impl Stream for SseBody {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(first) = this.first.take() {
            this.unflushed += 1;
            return Poll::Ready(Some(first));
        }
        // Frames first: a stream with a frame ready hands it out without
        // touching anything else; shutdown and the heartbeat are looked at
        // only when it is about to wait (which it does after every burst).
        match this.frames.as_mut().poll_next(cx) {
            Poll::Ready(Some(frame)) => {
                this.sent_since_tick = true;
                this.unflushed += 1;
                return Poll::Ready(Some(frame));
            }
            Poll::Ready(None) => {
                this.end("completed");
                return Poll::Ready(None);
            }
            Poll::Pending => this.flush_frames(),
        }
        if this.drain_at.is_none() && this.shutdown.as_mut().poll(cx).is_ready() {
            let window = this.hub.drain_window;
            if window.is_zero() {
                this.end("drain");
                return Poll::Ready(None);
            }
            this.drain_at = Some(Box::pin(tokio::time::sleep(crate::jitter::below(window))));
        }
        if let Some(drain_at) = &mut this.drain_at {
            if drain_at.as_mut().poll(cx).is_ready() {
                this.end("drain");
                this.unflushed += 1;
                let spread = crate::jitter::below(Duration::from_millis(this.hub.retry_ms));
                let retry = this.hub.retry_ms + u64::try_from(spread.as_millis()).unwrap_or(0);
                return Poll::Ready(Some(frame::retry(retry)));
            }
        }
        while this.heartbeat.poll_tick(cx).is_ready() {
            if !std::mem::take(&mut this.sent_since_tick) {
                this.hub.counters.frames.inc();
                return Poll::Ready(Some(this.hub.heartbeat_frame.clone()));
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(heartbeat_ms: u64) -> (SseHub, CancellationToken) {
        let shutdown = CancellationToken::new();
        let hub = SseHub::new(
            Duration::from_millis(heartbeat_ms),
            Duration::from_millis(1500),
            shutdown.clone(),
        );
        (hub, shutdown)
    }

    fn permit(hub: &SseHub) -> StreamPermit {
        hub.admit(None, ClientIp::default()).expect("no limits")
    }

    async fn next_frame(body: &mut axum::body::BodyDataStream) -> Option<Bytes> {
        body.next().await.map(|chunk| chunk.expect("body chunk"))
    }

    /// A handler that panics after taking its permit, or a stream whose
    /// frames panic mid-way: either way the place is given back as the
    /// panic unwinds, and the open-stream gauge goes back to 0.
    #[tokio::test]
    async fn a_panic_in_a_handler_or_its_stream_gives_the_place_back() {
        use crate::server::limits::streams::{StreamLimitConfig, StreamLimits};

        let (hub, _shutdown) = hub(100);
        let hub = hub.with_limits(StreamLimits::new(StreamLimitConfig {
            anonymous: 1,
            ..StreamLimitConfig::default()
        }));
        let in_handler = {
            let hub = hub.clone();
            tokio::spawn(async move {
                let _permit = permit(&hub);
                panic!("a handler panics holding its permit");
            })
        };
        assert!(in_handler.await.unwrap_err().is_panic());
        let response = hub.respond(
            permit(&hub),
            futures::stream::once(async { panic!("a stream panics mid-way") }),
        );
        assert_eq!(hub.open_streams(), 1);
        let reading = tokio::spawn(async move {
            let mut body = response.into_body().into_data_stream();
            while body.next().await.is_some() {}
        });
        assert!(reading.await.unwrap_err().is_panic());
        assert_eq!(hub.open_streams(), 0, "the gauge is back to 0");
        let _again = hub
            .admit(None, ClientIp::default())
            .expect("the only anonymous place is free again");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_sends_the_retry_hint_then_heartbeats() {
        let (hub, _shutdown) = hub(100);
        let response = hub.respond(permit(&hub), futures::stream::pending());
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        let mut body = response.into_body().into_data_stream();
        assert_eq!(
            next_frame(&mut body).await.as_deref(),
            Some(&b"retry: 1500\n\n"[..])
        );
        let before = Instant::now();
        assert_eq!(
            next_frame(&mut body).await.as_deref(),
            Some(&b": ping\n\n"[..])
        );
        assert_eq!(before.elapsed(), Duration::from_millis(100));
        assert_eq!(
            next_frame(&mut body).await.as_deref(),
            Some(&b": ping\n\n"[..])
        );
    }

    #[tokio::test(start_paused = true)]
    async fn frames_postpone_the_heartbeat() {
        let (hub, _shutdown) = hub(100);
        let frames = futures::stream::unfold(0u8, |n| async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            (n < 3).then(|| (Bytes::from(format!("data: {n}\n\n")), n + 1))
        })
        .chain(futures::stream::pending());
        let mut body = hub
            .respond(permit(&hub), frames)
            .into_body()
            .into_data_stream();
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(next_frame(&mut body).await.expect("frame"));
        }
        let seen: Vec<&[u8]> = seen.iter().map(|b| &b[..]).collect();
        assert_eq!(
            seen,
            [
                &b"retry: 1500\n\n"[..],
                b"data: 0\n\n",
                b"data: 1\n\n",
                b"data: 2\n\n",
                b": ping\n\n"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_open_streams() {
        let (hub, shutdown) = hub(10_000);
        let mut body = hub
            .respond(permit(&hub), futures::stream::pending())
            .into_body()
            .into_data_stream();
        assert!(next_frame(&mut body).await.is_some(), "retry hint");
        shutdown.cancel();
        assert!(
            next_frame(&mut body).await.is_none(),
            "stream ends on shutdown"
        );
        drop(body);
        let counters = hub.counters();
        assert_eq!(
            counters
                .closed
                .get_or_create(&vec![("reason", "drain")])
                .get(),
            1
        );
        assert_eq!(counters.frames.get(), 1, "the retry hint");
        assert!(hub.admit(None, ClientIp::default()).is_err());
        assert_eq!(
            counters
                .refused
                .get_or_create(&vec![("reason", "draining")])
                .get(),
            1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_ends_each_stream_within_the_window_with_a_jittered_retry_hint() {
        let (hub, shutdown) = hub(100_000);
        let hub = hub.with_drain_window(Duration::from_secs(10));
        let mut bodies: Vec<_> = (0..20)
            .map(|_| {
                hub.respond(permit(&hub), futures::stream::pending())
                    .into_body()
                    .into_data_stream()
            })
            .collect();
        for body in &mut bodies {
            assert!(next_frame(body).await.is_some(), "retry hint");
        }
        let started = Instant::now();
        shutdown.cancel();
        assert!(hub.is_draining());
        assert!(
            hub.admit(None, ClientIp::default()).is_err(),
            "no new streams"
        );
        // Every body is polled at once, as a server polls its connections.
        let ended_at = futures::future::join_all(bodies.iter_mut().map(|body| async move {
            let last = next_frame(body).await.expect("a final retry hint");
            let text = std::str::from_utf8(&last).unwrap().to_owned();
            let retry: u64 = text
                .trim()
                .strip_prefix("retry: ")
                .and_then(|ms| ms.parse().ok())
                .expect("retry: <ms>");
            assert!((1500..3000).contains(&retry), "{text:?}");
            assert!(next_frame(body).await.is_none(), "then the stream ends");
            started.elapsed()
        }))
        .await;
        assert!(ended_at.iter().all(|at| *at < Duration::from_secs(10)));
        assert!(
            ended_at.iter().any(|at| *at > Duration::ZERO),
            "spread, not at once"
        );
    }

    #[tokio::test]
    async fn the_open_stream_count_follows_responses_being_dropped() {
        let (hub, _shutdown) = hub(10_000);
        let first = hub.respond(permit(&hub), futures::stream::pending());
        let second = hub.respond(permit(&hub), futures::stream::pending());
        assert_eq!(hub.open_streams(), 2);
        drop(first);
        assert_eq!(hub.open_streams(), 1);
        drop(second);
        assert_eq!(hub.open_streams(), 0);
        assert_eq!(hub.opened_counter().get(), 2);
        let closed = hub
            .counters()
            .closed
            .get_or_create(&vec![("reason", "client_gone")])
            .get();
        assert_eq!(
            closed, 2,
            "dropped before they ended: the clients went away"
        );
    }
}
