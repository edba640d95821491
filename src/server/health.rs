//! Liveness and readiness probes for load balancers and orchestrators.
//!
//! `/healthz` answers whenever the process serves HTTP; `/readyz` also asks
//! the engine, and fails from the moment a shutdown signal starts the
//! drain, so a load balancer stops sending new clients at once. Neither
//! reveals configuration or internals.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::sse::SseHub;
use crate::engine::SharedEngine;

/// `GET /healthz`: 200 while the process serves requests.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the engine can serve and no drain is under way,
/// else 503.
pub async fn readyz(
    State(engine): State<SharedEngine>,
    State(sse): State<SseHub>,
) -> (StatusCode, Json<Value>) {
    if sse.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "reason": "shutting down" })),
        );
    }
    if engine.ready().await {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "reason": "engine unavailable" })),
        )
    }
}
