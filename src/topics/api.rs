//! The topics page's server functions (`/api/topics/_mine`, `_follow`,
//! `_leave`): what a signed-in user may see and change of their own
//! topics. Backends manage topics with the HTTP API instead
//! (`server::topics::api`); no topic key starts with `_`, so the two never
//! meet under `/api/topics/`.
//!
//! `_follow` and `_leave` are posted as plain forms by the page, so they
//! end with a redirect back to it; a failure is the server function's error.

use leptos::prelude::*;

use crate::topics::model::TopicChoice;
use crate::wire::app_error::AppError;

/// The open topics and the ones the signed-in user follows.
#[server(prefix = "/api/topics", endpoint = "_mine")]
pub async fn my_topics() -> Result<Vec<TopicChoice>, AppError> {
    let (state, user) = crate::server::context::signed_in().await?;
    state
        .topics
        .choices_for(&user)
        .await
        .map_err(AppError::from)
}

/// Follows topic `key` (an open one), then back to `/topics`.
#[server(prefix = "/api/topics", endpoint = "_follow")]
pub async fn follow_topic(key: String) -> Result<(), AppError> {
    let (state, user, key) = caller_and_key(&key).await?;
    state
        .topics
        .follow_self(&user, &key)
        .await
        .map_err(AppError::from)?;
    leptos_axum::redirect("/topics");
    Ok(())
}

/// Leaves topic `key` (not a required one), then back to `/topics`.
#[server(prefix = "/api/topics", endpoint = "_leave")]
pub async fn leave_topic(key: String) -> Result<(), AppError> {
    let (state, user, key) = caller_and_key(&key).await?;
    state
        .topics
        .leave_self(&user, &key)
        .await
        .map_err(AppError::from)?;
    leptos_axum::redirect("/topics");
    Ok(())
}

/// The signed-in caller and the topic key they named (400 if it is not
/// one), within the caller's rate of feed changes (following or leaving a
/// topic changes what their stream carries; 429 past it).
#[cfg(feature = "ssr")]
async fn caller_and_key(
    key: &str,
) -> Result<
    (
        crate::server::state::AppState,
        crate::account::model::UserName,
        crate::topics::model::TopicKey,
    ),
    AppError,
> {
    use crate::server::context::{client_ip, fail, signed_in};

    let (state, user) = signed_in().await?;
    state
        .rate
        .feed_change(client_ip().await?, Some(user.as_str()))
        .map_err(AppError::from)?;
    let key = crate::topics::model::TopicKey::parse(key)
        .map_err(|error| fail(axum::http::StatusCode::BAD_REQUEST, format!("key: {error}")))?;
    Ok((state, user, key))
}
