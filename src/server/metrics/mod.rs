//! `/metrics`: counters, gauges and histograms in the OpenMetrics text
//! format. docs/operations.md lists every series and the alerts worth
//! having.
//!
//! Owns one registry per server instance (not a process-global one, so tests
//! can run several apps side by side), and who may read it: anyone who
//! reaches the port, or only callers with `BELFRY_METRICS_TOKEN`; with
//! `BELFRY_METRICS_ADDR` it is served on its own address instead (see
//! `server::startup`). The series themselves are owned by the parts that
//! count them (SSE, the engine, sessions, [`http`]); this module registers
//! them. Values cheap to read at scrape time (the runtime's task count) are
//! read then, not tracked.
//!
//! - [`http`]: requests by route and status.

pub mod http;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use self::http::HttpMetrics;
use super::auth::session_end::SessionEnds;
use super::error::ApiError;
use super::sse::SseHub;
use super::topics::service::TopicStats;
use crate::engine::stats::EngineStats;

/// The metrics of one server instance.
pub struct Metrics {
    registry: Registry,
    alive_tasks: Gauge,
    token: Option<Arc<str>>,
}

/// The parts whose series `/metrics` shows.
pub struct Sources<'a> {
    /// Open streams, frames, closes and refusals.
    pub sse: &'a SseHub,
    /// Publishes, resyncs, resets, the Redis link, delivery latency.
    pub engine: &'a EngineStats,
    /// Streams ended by their session.
    pub session_ends: &'a SessionEnds,
    /// Requests by route and status.
    pub http: &'a HttpMetrics,
    /// Followers added and removed.
    pub topics: &'a TopicStats,
}

impl Metrics {
    /// Registers every metric of the server; `token`, when given, is what
    /// scrapers must present as `Authorization: Bearer <token>`.
    pub fn new(sources: Sources<'_>, token: Option<&str>) -> Arc<Self> {
        let Sources {
            sse,
            engine,
            session_ends,
            http,
            topics,
        } = sources;
        let mut registry = Registry::with_prefix("belfry");
        registry.register("sse_open_streams", "SSE streams open now", sse.open_gauge());
        registry.register(
            "sse_streams_opened",
            "SSE streams opened since start",
            sse.opened_counter(),
        );
        let streams = sse.counters();
        registry.register(
            "sse_streams_closed",
            "SSE streams closed, by reason (client_gone, completed, drain)",
            streams.closed,
        );
        registry.register(
            "sse_streams_refused",
            "SSE streams refused, by reason (limit, draining)",
            streams.refused,
        );
        registry.register(
            "sse_frames",
            "SSE frames handed to connections (events, hints, heartbeats)",
            streams.frames,
        );
        registry.register(
            "sse_session_ends",
            "SSE streams ended by their session, by reason (expired, signed_out)",
            session_ends.ended_counter(),
        );
        registry.register(
            "engine_publishes",
            "Events published to the engine, by outcome (stored, conflict, unavailable, invalid, unreplicated, full)",
            engine.publishes.clone(),
        );
        registry.register(
            "engine_stored",
            "Things the in-process engine holds now, by kind (inboxes, read states, tasks, idempotency records, users, ...)",
            engine.stored.clone(),
        );
        registry.register(
            "engine_bound",
            "The in-process engine's bound per kind: at it, new things of the kind are refused (507)",
            engine.bounds.clone(),
        );
        registry.register(
            "topic_followers_added",
            "Follows made: users added to a topic they did not follow",
            topics.followers_added.clone(),
        );
        registry.register(
            "topic_followers_removed",
            "Follows ended: users removed from a topic they followed",
            topics.followers_removed.clone(),
        );
        registry.register(
            "engine_resyncs",
            "Followers that re-read history, by cause (lag, outage)",
            engine.resyncs.clone(),
        );
        registry.register(
            "engine_resets",
            "Followers too far behind to resync, sent reset",
            engine.resets.clone(),
        );
        registry.register(
            "engine_link_up",
            "1 while the engine's live link (Redis Pub/Sub) is up",
            engine.link_up.clone(),
        );
        registry.register(
            "engine_reconnects",
            "Times the Redis Pub/Sub link was re-established after a loss",
            engine.reconnects.clone(),
        );
        registry.register(
            "delivery_latency_seconds",
            "Publish to hand-over to a stream (sampled, 1 delivery in 16 per stream)",
            engine.delivery_latency.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            http.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Seconds to the response head, by route",
            http.duration.clone(),
        );
        registry.register(
            "http_connections",
            "TCP connections accepted, by path (stream: a stream on a connection of its own, served without hyper; hyper)",
            http.connections.clone(),
        );
        let alive_tasks = Gauge::default();
        registry.register(
            "tokio_alive_tasks",
            "Tasks alive in the async runtime",
            alive_tasks.clone(),
        );
        Arc::new(Self {
            registry,
            alive_tasks,
            token: token.filter(|token| !token.is_empty()).map(Arc::from),
        })
    }

    /// Whether a scrape with this `Authorization` header may read.
    fn allows(&self, authorization: Option<&str>) -> bool {
        use subtle::ConstantTimeEq;
        match &self.token {
            None => true,
            Some(token) => authorization
                .and_then(|value| value.strip_prefix("Bearer "))
                .is_some_and(|given| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))),
        }
    }

    /// The current values, encoded as OpenMetrics text.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let tasks = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        self.alive_tasks
            .set(i64::try_from(tasks).unwrap_or(i64::MAX));
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// `GET /metrics`.
pub async fn serve(State(metrics): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if !metrics.allows(authorization) {
        return ApiError::Unauthorized("metrics need Authorization: Bearer <BELFRY_METRICS_TOKEN>")
            .into_response();
    }
    match metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
