//! Server functions of the activity page.

use leptos::prelude::*;

use crate::model::activity::Activity;

/// Records one made-up activity entry (signed-in users only).
#[server(prefix = "/api/activity", endpoint = "simulate")]
pub async fn simulate_activity() -> Result<Activity, ServerFnError> {
    use crate::server::context::{from_api, signed_in};

    let (state, _user) = signed_in().await?;
    state
        .activity
        .simulate()
        .await
        .map_err(|error| from_api(error.into()))
}
