//! The task API for backends (publisher key): start a task, report its
//! progress, read its state. Bodies are JSON; errors are the API's JSON.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::service::{TaskError, Tasks};
use crate::server::auth::publisher::Publisher;
use crate::server::error::ApiError;
use crate::server::idempotency::IdempotencyKey;
use crate::server::json_body::{DigestedJson, JsonBody};
use crate::server::state::AppState;
use crate::tasks::model::{NewTask, ProgressUpdate};

impl From<TaskError> for ApiError {
    fn from(error: TaskError) -> Self {
        match error {
            TaskError::NotFound => ApiError::NotFound("no such task"),
            TaskError::Field(field) => field.into(),
            TaskError::Finished(status) => ApiError::Conflict(format!(
                "the task already ended ({}); no update may follow",
                status.as_str()
            )),
            TaskError::Backwards(at) => {
                ApiError::Conflict(format!("progress never goes back (it is at {at} %)"))
            }
            TaskError::Engine(error) => error.into(),
        }
    }
}

/// The scope of `POST /api/tasks`'s idempotency keys.
pub const IDEMPOTENCY_SCOPE: &str = "tasks";

/// `POST /api/tasks` `{"name", "simulate"?, "fail"?}` → 201 `{"task_id"}`.
/// With `Idempotency-Key`, a retry gets the same task (its id is derived
/// from the key with the server's secret, so a lost reply cannot leave a
/// second task behind) and starts no second worker.
pub async fn create(
    State(state): State<AppState>,
    _publisher: Publisher,
    IdempotencyKey(key): IdempotencyKey,
    DigestedJson(body, fingerprint): DigestedJson<NewTask>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (status, answer) = state
        .idempotency
        .once(IDEMPOTENCY_SCOPE, key.as_deref(), &fingerprint, || async {
            let id = key
                .as_deref()
                .map(|key| state.sessions.keys.derive_hex("task-id", key, 32));
            let task = state.tasks.start(body, None, id).await?;
            Ok((StatusCode::CREATED, json!({ "task_id": task.id })))
        })
        .await?;
    Ok((status, Json(answer)))
}

/// `POST /api/tasks/{id}/progress` with a [`ProgressUpdate`] → 200 the new state.
pub async fn report(
    State(tasks): State<Tasks>,
    _publisher: Publisher,
    Path(id): Path<String>,
    JsonBody(update): JsonBody<ProgressUpdate>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(tasks.report(&id, update).await?))
}

/// `GET /api/tasks/{id}` → the current state.
pub async fn read(
    State(tasks): State<Tasks>,
    _publisher: Publisher,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    match tasks.current(&id).await? {
        Some((_, state)) => Ok(Json(state)),
        None => Err(ApiError::NotFound("no such task")),
    }
}
