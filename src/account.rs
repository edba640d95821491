//! Who is signed in, seen from the app: server functions to sign in, sign
//! out and ask, and the resource the header reads.
//!
//! The session itself (cookie, token) is the server's business
//! (`server::auth`); this module only calls it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in user, as the UI needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user name.
    pub name: String,
}

/// The current account, or `None` when signed out.
#[server(prefix = "/api/account", endpoint = "me")]
pub async fn current_account() -> Result<Option<Account>, ServerFnError> {
    let (_, user) = crate::server::context::current_user().await?;
    Ok(user.map(|user| Account {
        name: user.to_string(),
    }))
}

/// Signs in as `name` (1–32 letters, digits, `-`, `_`, `.`).
#[server(prefix = "/api/account", endpoint = "sign_in")]
pub async fn sign_in(name: String) -> Result<Account, ServerFnError> {
    use crate::server::context::{fail, from_api, set_cookie, state};
    use axum::http::StatusCode;

    let state = state()?;
    let user = crate::model::user::UserName::parse(name.trim())
        .map_err(|error| fail(StatusCode::BAD_REQUEST, format!("name: {error}")))?;
    state
        .inbox
        .register(&user)
        .await
        .map_err(|error| from_api(error.into()))?;
    set_cookie(&state.sessions.sign_in_cookie(&user))?;
    // A form posted before the page hydrated lands on the dashboard too
    // (the hydrated page reloads it itself, see pages/sign_in.rs).
    leptos_axum::redirect("/notifications");
    tracing::info!(user = %user, "signed in");
    // The feed is a side effect: a slow store must not delay the sign-in.
    let (activity, who) = (state.activity.clone(), user.to_string());
    tokio::spawn(async move {
        activity
            .note(
                crate::model::activity::ActivityType::UserJoined,
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

/// Signs out (expires the session cookie).
#[server(prefix = "/api/account", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    let state = crate::server::context::state()?;
    crate::server::context::set_cookie(&state.sessions.sign_out_cookie())
}

/// The account resource, resolved on the server before the page is sent (so
/// the header is right even before scripts run) and shared via context.
pub fn provide_account() -> Resource<Option<Account>> {
    let account =
        Resource::new_blocking(|| (), |()| async { current_account().await.ok().flatten() });
    provide_context(account);
    account
}

/// The account resource provided by [`provide_account`].
pub fn use_account() -> Resource<Option<Account>> {
    expect_context::<Resource<Option<Account>>>()
}
