//! Server functions of the progress page. Tasks started here belong to the
//! signed-in user (who alone may cancel them) and always run the demo worker.

use leptos::prelude::*;

use crate::wire::app_error::AppError;

use crate::model::task::TaskState;

/// Starts a demo task named `name`; with `fail`, it fails at a random step.
#[server(prefix = "/api/progress", endpoint = "start")]
pub async fn start_task(name: String, fail: bool) -> Result<TaskState, AppError> {
    use crate::model::task::NewTask;
    use crate::server::context::signed_in;

    let (state, user) = signed_in().await?;
    let request = NewTask {
        name,
        simulate: true,
        fail,
    };
    crate::server::tasks::api::start(&state, request, Some(&user), None)
        .await
        .map_err(AppError::from)
}

/// Cancels one of the caller's running tasks.
#[server(prefix = "/api/progress", endpoint = "cancel")]
pub async fn cancel_task(id: String) -> Result<TaskState, AppError> {
    use crate::server::context::signed_in;

    let (state, user) = signed_in().await?;
    state.tasks.cancel(&id, &user).await.map_err(AppError::from)
}

/// The caller's tasks that are running or finished recently, oldest first.
#[server(prefix = "/api/progress", endpoint = "mine")]
pub async fn my_tasks() -> Result<Vec<TaskState>, AppError> {
    use crate::server::context::signed_in;

    let (state, user) = signed_in().await?;
    state.tasks.of_user(&user).await.map_err(AppError::from)
}
