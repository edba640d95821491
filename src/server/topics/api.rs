//! `/api/topics/*`: topics and their followers, for backends.
//!
//! Every route takes `Authorization: Bearer <publisher key>` and answers
//! JSON; errors are the API's (`{"error": {"code", "message", "field"?}}`):
//!
//! | request | answer |
//! |---|---|
//! | `PUT /api/topics/{key}` `{"name", "description"?, "open"?, "required"?}` | 201 created / 200 changed, the topic |
//! | `GET /api/topics?cursor=&limit=` | 200 `{"topics": [...], "next"}` |
//! | `GET /api/topics/{key}` | 200 the topic, 404 |
//! | `DELETE /api/topics/{key}` | 204, 404 |
//! | `POST /api/topics/{key}/followers` `{"users": [...]}` | 200 `{"added", "already"}`, 404, 409 `limit_reached` |
//! | `DELETE /api/topics/{key}/followers` `{"users": [...]}` | 200 `{"removed", "not_following"}`, 404 |
//! | `GET /api/topics/{key}/followers?cursor=&limit=` | 200 `{"users", "next"}`, 404 |
//! | `GET /api/users/{user}/topics` | 200 `{"topics": [...]}` |
//!
//! A key or a name that breaks its rules is a 400 naming the field (`key`,
//! `users[3]`); at most [`MAX_USERS_PER_CALL`] names per call. Owns parsing
//! and answers only; the service holds the logic.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::service::{Topics, MAX_USERS_PER_CALL};
use crate::account::model::UserName;
use crate::server::auth::publisher::Publisher;
use crate::server::error::ApiError;
use crate::server::json_body::JsonBody;
use crate::topics::model::{TopicDraft, TopicKey};

/// Largest accepted body (a thousand names of 32 characters fit).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Items per page when the caller does not say.
pub const DEFAULT_PAGE: usize = 100;
/// Most items per page.
pub const MAX_PAGE: usize = 1000;

fn key_of(text: &str) -> Result<TopicKey, ApiError> {
    TopicKey::parse(text).map_err(|error| ApiError::field("key", error.to_string()))
}

/// `?cursor=&limit=` as given; checked by the handlers, so a bad
/// value is the API's 400 naming it.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

impl PageQuery {
    fn check(self) -> Result<(String, usize), ApiError> {
        let cursor = self.cursor.unwrap_or_default();
        if cursor.len() > 64 {
            return Err(ApiError::field("cursor", "not a cursor this API gave out"));
        }
        let limit = match self.limit {
            None => DEFAULT_PAGE,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| ApiError::field("limit", "a number from 1 to 1000"))?,
        };
        Ok((cursor, limit))
    }
}

/// The body of the followers routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersRequest {
    users: Vec<String>,
}

fn users_of(request: UsersRequest) -> Result<Vec<UserName>, ApiError> {
    if request.users.is_empty() {
        return Err(ApiError::field("users", "name at least one user"));
    }
    if request.users.len() > MAX_USERS_PER_CALL {
        return Err(ApiError::field("users", "at most 1000 users per call"));
    }
    request
        .users
        .iter()
        .enumerate()
        .map(|(index, name)| {
            UserName::parse(name)
                .map_err(|error| ApiError::field(format!("users[{index}]"), error.to_string()))
        })
        .collect()
}

/// `PUT /api/topics/{key}`.
pub async fn put(
    State(topics): State<Topics>,
    _publisher: Publisher,
    Path(key): Path<String>,
    JsonBody(draft): JsonBody<TopicDraft>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let topic = draft.validate(key_of(&key)?)?;
    let answer = json!(topic);
    let created = topics.put(topic).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)))
}

/// `GET /api/topics/{key}`.
pub async fn read(
    State(topics): State<Topics>,
    _publisher: Publisher,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let stored = topics
        .get(&key_of(&key)?)
        .await?
        .ok_or(ApiError::NotFound("no such topic"))?;
    Ok(Json(json!(stored.topic)))
}

/// `DELETE /api/topics/{key}`.
pub async fn delete(
    State(topics): State<Topics>,
    _publisher: Publisher,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    if topics.delete(&key_of(&key)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such topic"))
    }
}

/// `GET /api/topics`.
pub async fn list(
    State(topics): State<Topics>,
    _publisher: Publisher,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (cursor, limit) = query.check()?;
    let (page, next) = topics.list(&cursor, limit).await?;
    Ok(Json(json!({ "topics": page, "next": next })))
}

/// `POST /api/topics/{key}/followers`.
pub async fn add_followers(
    State(topics): State<Topics>,
    _publisher: Publisher,
    Path(key): Path<String>,
    JsonBody(request): JsonBody<UsersRequest>,
) -> Result<Json<Value>, ApiError> {
    let (key, users) = (key_of(&key)?, users_of(request)?);
    Ok(Json(json!(topics.add_followers(&key, &users).await?)))
}

/// `DELETE /api/topics/{key}/followers`: what [`add_followers`] does, undone.
pub async fn remove_followers(
    State(topics): State<Topics>,
    _publisher: Publisher,
    Path(key): Path<String>,
    JsonBody(request): JsonBody<UsersRequest>,
) -> Result<Json<Value>, ApiError> {
    let (key, users) = (key_of(&key)?, users_of(request)?);
    Ok(Json(json!(topics.remove_followers(&key, &users).await?)))
}

/// `GET /api/topics/{key}/followers`.
pub async fn followers(
    State(topics): State<Topics>,
    _publisher: Publisher,
    Path(key): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let key = key_of(&key)?;
    let (cursor, limit) = query.check()?;
    let (users, next) = topics.followers(&key, &cursor, limit).await?;
    Ok(Json(json!({ "users": users, "next": next })))
}

/// `GET /api/users/{user}/topics`.
pub async fn followed_by(
    State(topics): State<Topics>,
    _publisher: Publisher,
    Path(user): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user =
        UserName::parse(&user).map_err(|error| ApiError::field("user", error.to_string()))?;
    Ok(Json(json!({ "topics": topics.followed_by(&user).await? })))
}
