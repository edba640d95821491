//! `JsonBody<T>`: the API's JSON request body, with the API's errors.
//!
//! 415 when the body is not declared JSON, 413 over the route's body limit,
//! 400 naming the offending field (via `serde_path_to_error`) when it does
//! not parse. Owns body parsing only; validation of values stays with the
//! types in `model`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body parsed into `T`.
pub struct JsonBody<T>(pub T);

/// A JSON body parsed into `T`, with the digest of its bytes (what
/// idempotent APIs compare to tell one request from another).
pub struct DigestedJson<T>(pub T, pub String);

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// Parses `body` into `T`, naming the field that failed.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        // serde reports a missing field at the parent's path; name it anyway.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let field = missing.or_else(|| (path != ".").then_some(path));
        ApiError::BadRequest { field, message }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = read(request, state).await?;
        parse(&body).map(JsonBody)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for DigestedJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = read(request, state).await?;
        let digest = super::idempotency::fingerprint(&body);
        parse(&body).map(|value| DigestedJson(value, digest))
    }
}

/// The body's bytes, if it is declared JSON and within the limit.
async fn read<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    if !is_json(request.headers()) {
        return Err(ApiError::UnsupportedMediaType);
    }
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("the body is larger than the limit")
            } else {
                ApiError::BadRequest {
                    field: None,
                    message: "could not read the body".into(),
                }
            }
        })
}
