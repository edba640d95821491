//! Server functions of the activity page.

use leptos::prelude::*;

use crate::wire::app_error::AppError;

use crate::activity::model::Activity;

/// Records one made-up activity entry (signed-in users only).
#[server(prefix = "/api/activity", endpoint = "simulate")]
pub async fn simulate_activity() -> Result<Activity, AppError> {
    use crate::server::context::signed_in;

    let (state, user) = signed_in().await?;
    // Every simulated entry fans out to every open activity feed: the
    // UI's per-user budget, shared with sends and started tasks.
    state.rate.send(user.as_str()).map_err(AppError::from)?;
    state.activity.simulate().await.map_err(AppError::from)
}
