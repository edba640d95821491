//! The account's server functions (`/api/account/*`): sign in, sign out,
//! and who is signed in.
//!
//! The session itself (cookie, token) is the server's business
//! (`server::auth`); these functions only call it.

use leptos::prelude::*;

use super::model::Account;
use crate::wire::app_error::AppError;

/// The current account, or `None` when signed out.
#[server(prefix = "/api/account", endpoint = "me")]
pub async fn current_account() -> Result<Option<Account>, AppError> {
    let (_, user) = crate::server::context::current_user().await?;
    Ok(user.map(|user| Account {
        name: user.to_string(),
    }))
}

/// Signs in as `name` (1–32 letters, digits, `-`, `_`, `.`). Demo mode
/// only: otherwise 403, since identity comes from the host application.
#[server(prefix = "/api/account", endpoint = "sign_in")]
pub async fn sign_in(name: String) -> Result<Account, AppError> {
    use crate::server::context::{client_ip, fail, set_cookie, state};
    use axum::http::StatusCode;

    let state = state()?;
    if !state.demo {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "sign-in by name is off: your application signs you in",
        ));
    }
    state
        .rate
        .sign_in(client_ip().await?)
        .map_err(AppError::from)?;
    let user = super::model::UserName::parse(name.trim())
        .map_err(|error| fail(StatusCode::BAD_REQUEST, format!("name: {error}")))?;
    state.inbox.register(&user).await.map_err(AppError::from)?;
    set_cookie(&state.sessions.sign_in_cookie(&user))?;
    // A form posted before the page hydrated lands on the dashboard too
    // (the hydrated page reloads it itself, see account/page.rs).
    leptos_axum::redirect("/notifications");
    tracing::info!(user = %user, "signed in");
    // The feed is a side effect: a slow store must not delay the sign-in.
    let (activity, who) = (state.activity.clone(), user.to_string());
    tokio::spawn(async move {
        activity
            .note(
                crate::activity::model::ActivityType::UserJoined,
                &who,
                "joined",
                "Signed in to Belfry",
            )
            .await;
    });
    Ok(Account {
        name: user.to_string(),
    })
}

/// Signs out: expires the session cookie and ends this browser's streams
/// on every instance (other browsers of the same user keep theirs). The
/// header posts it as a plain form, so the browser follows the redirect to
/// `/sign-in` and the next page starts signed out.
#[server(prefix = "/api/account", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let (state, session) = crate::server::context::current_session().await?;
    if let Some(session) = session {
        if let Err(error) = state.session_ends.sign_out(session.id).await {
            // This instance's streams ended already; others end at expiry.
            tracing::warn!(%error, "could not announce a sign-out to other instances");
        }
    }
    crate::server::context::set_cookie(&state.sessions.sign_out_cookie())?;
    leptos_axum::redirect("/sign-in");
    Ok(())
}
