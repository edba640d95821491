//! The one error type of the HTTP API: each variant is a status code and a
//! JSON body `{"error": {"code", "message", "field"?}}`.
//!
//! Messages are written for the API's callers. Internal details (engine
//! errors, I/O) go to the log and never into a response.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::engine::EngineError;
use crate::inbox::model::FieldError;

/// An API failure, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request is malformed; `field` names the culprit when known.
    BadRequest {
        /// The offending field (JSON path), if one is to blame.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// 401: credentials are missing or invalid.
    Unauthorized(&'static str),
    /// 403: credentials were given but are not accepted.
    Forbidden(&'static str),
    /// 404: no such thing (for this caller).
    NotFound(&'static str),
    /// 409: the request conflicts with the current state.
    Conflict(String),
    /// 409: a limit on how many things may exist is reached (topics in
    /// all, topics one user follows); nothing was changed. The operator
    /// sets the limit (docs/configuration.md).
    LimitReached(String),
    /// 413: the body is larger than allowed.
    PayloadTooLarge(&'static str),
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 422: understood, but refused (e.g. an idempotency key reused with
    /// another body).
    Unprocessable(&'static str),
    /// 429: a limit was reached; retry after `retry_after` seconds.
    TooManyRequests {
        /// Which limit, in words.
        message: String,
        /// Seconds after which a retry may succeed.
        retry_after: u32,
    },
    /// 507: a bound of the store is reached (the in-process engine's
    /// users, inboxes, tasks…); nothing was stored. Not retried by waiting:
    /// the operator raises the bound or moves to Redis.
    StorageFull(String),
    /// 503: temporarily unable (or not configured) to serve; retry later.
    Unavailable {
        /// What is unavailable and, where useful, how to enable it.
        message: String,
        /// Seconds after which a retry may succeed.
        retry_after: Option<u32>,
    },
    /// 500: an internal failure (already logged).
    Internal,
}

impl ApiError {
    /// A 400 blaming `field`.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::LimitReached(_) => (StatusCode::CONFLICT, "limit_reached"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::StorageFull(_) => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        match self {
            Self::BadRequest { message, .. }
            | Self::Conflict(message)
            | Self::LimitReached(message)
            | Self::StorageFull(message) => message.clone(),
            Self::Unavailable { message, .. } | Self::TooManyRequests { message, .. } => {
                message.clone()
            }
            Self::Unauthorized(message)
            | Self::Forbidden(message)
            | Self::NotFound(message)
            | Self::Unprocessable(message)
            | Self::PayloadTooLarge(message) => (*message).to_owned(),
            Self::UnsupportedMediaType => {
                "the body must be JSON (Content-Type: application/json)".to_owned()
            }
            Self::Internal => "internal error".to_owned(),
        }
    }

    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    /// Seconds the caller should wait before retrying, when it is worth it.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            Self::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::field(error.field, error.message)
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Unavailable(detail) => {
                tracing::warn!(%detail, "engine unavailable");
                Self::Unavailable {
                    message: "the notification store is unavailable; retry shortly".into(),
                    retry_after: Some(2),
                }
            }
            EngineError::Full(bound) => {
                tracing::warn!(%bound, "a bound of the in-process store is reached");
                Self::StorageFull(format!(
                    "this server stores as many {bound} as it may; nothing was stored (docs/configuration.md, in-process engine)"
                ))
            }
            EngineError::Invalid(detail) => {
                tracing::error!(%detail, "engine rejected a request");
                Self::Internal
            }
            EngineError::Conflict => {
                Self::Conflict("the resource changed meanwhile; read it again".into())
            }
            EngineError::Unreplicated(detail) => {
                tracing::warn!(%detail, "a publish was not replicated in time");
                Self::Unavailable {
                    message: "stored, but no replica acknowledged it in time (BELFRY_REDIS_WAIT_REPLICAS); retry with the same Idempotency-Key".into(),
                    retry_after: Some(1),
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut error = json!({ "code": code, "message": self.message() });
        if let Self::BadRequest {
            field: Some(field), ..
        } = &self
        {
            error["field"] = json!(field);
        }
        let retry_after = self.retry_after();
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
