//! What server functions need from the request: the shared state and the
//! signed-in user.
//!
//! Server functions run inside Leptos; `leptos_routes_with_context` puts
//! [`AppState`] in their context. This module must stay the only place that
//! turns a server function's request into a user, so every one of them
//! enforces the session the same way.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use super::auth::token::Session;
use super::error::ApiError;
use super::limits::client_ip::ClientIp;
use super::state::AppState;
use crate::account::model::UserName;
use crate::engine::EngineError;
use crate::server::tasks::service::TaskError;
use crate::wire::app_error::AppError;

/// The shared state.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| internal("server state missing from the context"))
}

/// The state and the signed-in user, if any.
pub async fn current_user() -> Result<(AppState, Option<UserName>), AppError> {
    let state = state()?;
    let headers: HeaderMap = leptos_axum::extract().await.map_err(internal)?;
    let user = state.sessions.user_of(&headers);
    Ok((state, user))
}

/// The state and the session, if any.
pub async fn current_session() -> Result<(AppState, Option<Session>), AppError> {
    let state = state()?;
    let headers: HeaderMap = leptos_axum::extract().await.map_err(internal)?;
    let session = state.sessions.session_of(&headers);
    Ok((state, session))
}

/// The caller's address, as the limits count it.
pub async fn client_ip() -> Result<Option<std::net::IpAddr>, AppError> {
    let ClientIp(ip) = leptos_axum::extract().await.map_err(internal)?;
    Ok(ip)
}

/// The state and the signed-in user; answers 401 when nobody is signed in.
pub async fn signed_in() -> Result<(AppState, UserName), AppError> {
    match current_user().await? {
        (state, Some(user)) => Ok((state, user)),
        (_, None) => Err(fail(StatusCode::UNAUTHORIZED, "sign in first")),
    }
}

/// Adds a `Set-Cookie` header to the server function's response.
pub fn set_cookie(cookie: &str) -> Result<(), AppError> {
    let value = HeaderValue::from_str(cookie).map_err(internal)?;
    if let Some(response) = use_context::<ResponseOptions>() {
        response.append_header(header::SET_COOKIE, value);
    }
    Ok(())
}

/// An error shown to the caller, with its HTTP status.
pub fn fail(status: StatusCode, message: impl Into<String>) -> AppError {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
    AppError::refused(status.as_u16(), message)
}

/// An internal failure: logged in full, reported vaguely.
pub fn internal(error: impl std::fmt::Display) -> AppError {
    tracing::error!(%error, "server function failed");
    fail(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

/// An API error (status, message, `Retry-After`) as a server function's.
impl From<ApiError> for AppError {
    fn from(error: ApiError) -> Self {
        if let (Some(seconds), Some(response)) =
            (error.retry_after(), use_context::<ResponseOptions>())
        {
            response.insert_header(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        fail(error.status(), error.message())
    }
}

impl From<EngineError> for AppError {
    fn from(error: EngineError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<TaskError> for AppError {
    fn from(error: TaskError) -> Self {
        ApiError::from(error).into()
    }
}
