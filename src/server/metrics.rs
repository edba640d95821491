//! `/metrics`: counters and gauges in the OpenMetrics text format.
//!
//! Owns one registry per server instance (not a process-global one, so tests
//! can run several apps side by side). Values that are cheap to read at
//! scrape time (the runtime's task count) are read then, not tracked.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::sse::SseHub;

/// The metrics of one server instance.
pub struct Metrics {
    registry: Registry,
    alive_tasks: Gauge,
}

impl Metrics {
    /// Registers every metric of the server.
    pub fn new(sse: &SseHub) -> Arc<Self> {
        let mut registry = Registry::with_prefix("belfry");
        registry.register("sse_open_streams", "SSE streams open now", sse.open_gauge());
        registry.register(
            "sse_streams_opened",
            "SSE streams opened since start",
            sse.opened_counter(),
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
        })
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
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> Response {
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
