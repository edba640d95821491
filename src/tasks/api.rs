//! The tasks' server functions (`/api/tasks/*`), called by the progress
//! page. Tasks started here belong to the signed-in user (who alone may
//! cancel them) and always run the demo worker. The work is
//! `server::tasks::service::Tasks`'s; these only check who is asking.

use leptos::prelude::*;

use crate::wire::app_error::AppError;

use crate::tasks::model::TaskState;

/// Starts a demo task named `name`; with `fail`, it fails at a random step.
#[server(prefix = "/api/tasks", endpoint = "start")]
pub async fn start_task(name: String, fail: bool) -> Result<TaskState, AppError> {
    use crate::server::context::signed_in;
    use crate::tasks::model::NewTask;

    let (state, user) = signed_in().await?;
    // Each task publishes its steps and an activity entry for everyone:
    // the UI's per-user budget, shared with sends and simulated activity.
    state.rate.send(user.as_str()).map_err(AppError::from)?;
    let request = NewTask {
        name,
        simulate: true,
        fail,
    };
    state
        .tasks
        .start(request, Some(&user), None)
        .await
        .map_err(AppError::from)
}

/// Cancels one of the caller's running tasks.
#[server(prefix = "/api/tasks", endpoint = "cancel")]
pub async fn cancel_task(id: String) -> Result<TaskState, AppError> {
    use crate::server::context::signed_in;

    let (state, user) = signed_in().await?;
    state.tasks.cancel(&id, &user).await.map_err(AppError::from)
}

/// The caller's tasks that are running or finished recently, oldest first.
#[server(prefix = "/api/tasks", endpoint = "mine")]
pub async fn my_tasks() -> Result<Vec<TaskState>, AppError> {
    use crate::server::context::signed_in;

    let (state, user) = signed_in().await?;
    state.tasks.of_user(&user).await.map_err(AppError::from)
}
