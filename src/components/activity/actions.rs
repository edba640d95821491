//! Server functions of the activity page.

use leptos::prelude::*;

use crate::model::activity::Activity;

/// Records one made-up activity entry.
#[server(prefix = "/api/activity", endpoint = "simulate")]
pub async fn simulate_activity() -> Result<Activity, ServerFnError> {
    use crate::server::context::{from_api, state};

    state()?
        .activity
        .simulate()
        .await
        .map_err(|error| from_api(error.into()))
}
