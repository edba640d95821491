//! Server functions behind the notification center and the test dashboard.
//! Each acts only on the caller's own inbox (the user comes from the
//! session, never from the arguments). Sending writes into the caller's
//! own inbox, or, in demo mode only, into anyone's (403 otherwise); sends
//! are rate-limited per user.

use leptos::prelude::*;

use crate::wire::app_error::AppError;

use crate::inbox::model::{InboxPage, NotificationKind};

/// Marks one of the caller's notifications read.
#[server(prefix = "/api/inbox", endpoint = "mark_read")]
pub async fn mark_read(id: String) -> Result<(), AppError> {
    let (state, user) = crate::server::context::signed_in().await?;
    state
        .inbox
        .mark_read(&user, &id)
        .await
        .map(|_| ())
        .map_err(AppError::from)
}

/// Marks all of the caller's notifications read.
#[server(prefix = "/api/inbox", endpoint = "mark_all_read")]
pub async fn mark_all_read() -> Result<u32, AppError> {
    let (state, user) = crate::server::context::signed_in().await?;
    state
        .inbox
        .mark_all_read(&user)
        .await
        .map_err(AppError::from)
}

/// The caller's notifications older than `before`, 20 at most.
#[server(prefix = "/api/inbox", endpoint = "older")]
pub async fn load_older(before: String) -> Result<InboxPage, AppError> {
    let (state, user) = crate::server::context::signed_in().await?;
    state
        .inbox
        .older(&user, &before)
        .await
        .map_err(AppError::from)
}

/// Sends a notification to `to` (a user name) from the signed-in caller.
#[server(prefix = "/api/inbox", endpoint = "send")]
pub async fn send_notification(
    to: String,
    kind: NotificationKind,
    title: String,
    body: String,
) -> Result<String, AppError> {
    use crate::account::model::UserName;
    use crate::inbox::model::NotificationDraft;
    use crate::server::context::fail;
    use crate::server::inbox::service::Recipients;
    use axum::http::StatusCode;

    let (state, sender) = crate::server::context::signed_in().await?;
    let recipient = UserName::parse(to.trim())
        .map_err(|error| fail(StatusCode::BAD_REQUEST, format!("to: {error}")))?;
    if recipient != sender && !state.demo {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "to: you can only send to yourself here; backends publish to others",
        ));
    }
    state.rate.send(sender.as_str()).map_err(AppError::from)?;
    let content = NotificationDraft {
        kind,
        title,
        body,
        link: None,
    }
    .validate()
    .map_err(|error| fail(StatusCode::BAD_REQUEST, error.to_string()))?;
    let ids = state
        .inbox
        .publish(Recipients::Users(vec![recipient]), content)
        .await
        .map_err(AppError::from)?;
    ids.into_iter()
        .next()
        .ok_or_else(|| fail(StatusCode::INTERNAL_SERVER_ERROR, "nothing was stored"))
}
