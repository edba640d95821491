//! `POST /api/notifications`: publishing for other backends.
//!
//! `Authorization: Bearer <publisher key>`; body
//! `{"to": "alice" | ["alice","bob"] | "*", "kind", "title", "body", "link"?}`
//! → 201 `{"ids": [...]}`. Errors: 400 naming the field, 401 no key, 403
//! wrong key, 413 over 16 KiB, 415 not JSON, 422 an `Idempotency-Key` reused
//! with another body, 429 over the key's rate, 503 API disabled or store
//! down. With `Idempotency-Key`, retries are safe (`server::idempotency`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::service::{Inbox, Recipients, IDEMPOTENCY_SCOPE};
use crate::account::model::UserName;
use crate::activity::model::ActivityType;
use crate::inbox::model::{NotificationDraft, NotificationKind};
use crate::server::activity::service::ActivityFeed;
use crate::server::auth::publisher::Publisher;
use crate::server::error::ApiError;
use crate::server::idempotency::{Idempotency, IdempotencyKey};
use crate::server::json_body::DigestedJson;

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Most recipients named in one request.
pub const MAX_RECIPIENTS: usize = 1000;

/// Who a request names: one user, several, or `"*"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum To {
    /// One name, or `"*"` for every known user.
    One(String),
    /// Several names.
    Many(Vec<String>),
}

/// The body of `POST /api/notifications`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    to: To,
    kind: NotificationKind,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    link: Option<String>,
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
    State(activity): State<ActivityFeed>,
    State(idempotency): State<Idempotency>,
    _publisher: Publisher,
    IdempotencyKey(key): IdempotencyKey,
    DigestedJson(request, fingerprint): DigestedJson<PublishRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (status, answer) = idempotency
        .once(IDEMPOTENCY_SCOPE, key.as_deref(), &fingerprint, || async {
            let recipients = recipients(request.to)?;
            let content = NotificationDraft {
                kind: request.kind,
                title: request.title,
                body: request.body,
                link: request.link,
            }
            .validate()?;
            let broadcast = (recipients == Recipients::Everyone).then(|| content.title.clone());
            let ids = inbox
                .publish_once(recipients, content, key.as_deref())
                .await?;
            if let Some(title) = broadcast {
                activity
                    .note(
                        ActivityType::PostCreated,
                        "publisher",
                        "broadcast a notification",
                        &title,
                    )
                    .await;
            }
            Ok((StatusCode::CREATED, json!({ "ids": ids })))
        })
        .await?;
    Ok((status, Json(answer)))
}
