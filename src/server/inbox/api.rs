//! `POST /api/notifications`: publishing for other backends.
//!
//! `Authorization: Bearer <publisher key>`; body
//! `{"to": "alice" | ["alice","bob"] | "*", "kind", "title", "body", "link"?}`
//! → 201 `{"ids": [...]}`. Errors: 400 naming the field, 401 no key, 403
//! wrong key, 413 over 16 KiB, 415 not JSON, 503 API disabled or store down.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::service::{Inbox, Recipients};
use crate::model::notification::{NotificationDraft, NotificationKind};
use crate::model::user::UserName;
use crate::server::auth::publisher::Publisher;
use crate::server::error::ApiError;

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Most recipients named in one request.
pub const MAX_RECIPIENTS: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum To {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    to: To,
    kind: NotificationKind,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    link: Option<String>,
}

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

fn recipients(to: To) -> Result<Recipients, ApiError> {
    let names = match to {
        To::One(name) if name == "*" => return Ok(Recipients::Everyone),
        To::One(name) => vec![name],
        To::Many(names) => names,
    };
    if names.is_empty() {
        return Err(ApiError::field("to", "name at least one recipient"));
    }
    if names.len() > MAX_RECIPIENTS {
        return Err(ApiError::field("to", "at most 1000 recipients per request"));
    }
    names
        .iter()
        .map(|name| {
            UserName::parse(name)
                .map_err(|error| ApiError::field("to", format!("{name:?}: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Recipients::Users)
}

/// The handler.
pub async fn publish(
    State(inbox): State<Inbox>,
    _publisher: Publisher,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("the body is larger than 16 KiB")
        } else {
            ApiError::BadRequest {
                field: None,
                message: "could not read the body".into(),
            }
        }
    })?;
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    let request: PublishRequest =
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
        })?;
    let recipients = recipients(request.to)?;
    let content = NotificationDraft {
        kind: request.kind,
        title: request.title,
        body: request.body,
        link: request.link,
    }
    .validate()?;
    let ids = inbox.publish(recipients, content).await?;
    Ok((StatusCode::CREATED, Json(json!({ "ids": ids }))))
}
