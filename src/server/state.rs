//! The state every handler shares, built once at start-up.
//!
//! Handlers extract only the part they need (`State<SharedEngine>`, …) via
//! `FromRef`. Server functions get the same state from Leptos's context.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use tokio_util::sync::CancellationToken;

use super::activity::service::ActivityFeed;
use super::auth::origin::OriginPolicy;
use super::auth::publisher::PublisherKey;
use super::auth::session::Sessions;
use super::auth::session_end::SessionEnds;
use super::clock::Clock;
use super::feeds::open::FeedSources;
use super::feeds::registry::FeedStreams;
use super::idempotency::Idempotency;
use super::inbox::service::Inbox;
use super::limits::client_ip::ClientIpSource;
use super::limits::rate::RateLimits;
use super::metrics::http::HttpMetrics;
use super::metrics::Metrics;
use super::sse::SseHub;
use super::tasks::service::Tasks;
use super::topics::service::Topics;
use crate::engine::SharedEngine;

/// Shared server state; cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Leptos's runtime options (site root, output name, …).
    pub leptos_options: LeptosOptions,
    /// The broker engine.
    pub engine: SharedEngine,
    /// The SSE implementation and its counters.
    pub sse: SseHub,
    /// The process-wide clock ticker.
    pub clock: Clock,
    /// This instance's metrics registry.
    pub metrics: Arc<Metrics>,
    /// The HTTP request series (fed by the router's middleware).
    pub http_metrics: HttpMetrics,
    /// Per-user inboxes.
    pub inbox: Inbox,
    /// Session cookies and tokens.
    pub sessions: Sessions,
    /// The key backends publish with.
    pub publisher_key: PublisherKey,
    /// Long-running tasks.
    pub tasks: Tasks,
    /// Topics and who follows them.
    pub topics: Topics,
    /// The activity feed.
    pub activity: ActivityFeed,
    /// Cancelled when the server shuts down (background work stops).
    pub shutdown: CancellationToken,
    /// Cancelled when a shutdown signal arrives: the drain begins (readiness
    /// fails, streams close over the drain window). Before `shutdown`.
    #[from_ref(skip)]
    pub draining: CancellationToken,
    /// Demo mode: sign-in by name, sending to other users.
    pub demo: bool,
    /// Which origins may make cookie-authenticated changes.
    pub origins: OriginPolicy,
    /// Where a request's client address comes from.
    pub client_ip: ClientIpSource,
    /// Publish, sign-in and send rate limits.
    pub rate: RateLimits,
    /// Ends streams when their session expires or signs out.
    pub session_ends: SessionEnds,
    /// Remembered answers to idempotent API requests.
    pub idempotency: Idempotency,
    /// The multiplexed streams open here.
    pub feed_streams: FeedStreams,
}

impl FromRef<AppState> for FeedSources {
    fn from_ref(state: &AppState) -> Self {
        Self {
            inbox: state.inbox.clone(),
            tasks: state.tasks.clone(),
            activity: state.activity.clone(),
            clock: state.clock.clone(),
        }
    }
}
