//! The task API for backends (publisher key): start a task, report its
//! progress, read its state. Bodies are JSON; errors are the API's JSON.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::service::{TaskError, Tasks};
use crate::model::task::{NewTask, ProgressUpdate, TaskState};
use crate::server::auth::publisher::Publisher;
use crate::server::error::ApiError;
use crate::server::json_body::JsonBody;
use crate::server::state::AppState;

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

/// `POST /api/tasks` `{"name", "simulate"?, "fail"?}` → 201 `{"task_id"}`.
pub async fn create(
    State(state): State<AppState>,
    _publisher: Publisher,
    JsonBody(body): JsonBody<NewTask>,
) -> Result<impl IntoResponse, ApiError> {
    let task = start(&state, body, None).await?;
    Ok((StatusCode::CREATED, Json(json!({ "task_id": task.id }))))
}

/// Creates a task and, if asked, runs the demo worker on it. Shared with the
/// page's server function.
pub async fn start(
    state: &AppState,
    body: NewTask,
    owner: Option<&crate::model::user::UserName>,
) -> Result<TaskState, ApiError> {
    let name = body.validated_name()?;
    let task = state.tasks.create(name.clone(), owner).await?;
    if body.simulate {
        super::runner::spawn(
            state.tasks.clone(),
            task.id.clone(),
            name,
            body.fail,
            state.task_step,
            state.shutdown.clone(),
        );
    }
    Ok(task)
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
