//! `Idempotency-Key` on the publishing API: a retry with the same key within
//! 24 h gets the first answer and stores nothing new; a retry after a
//! partial failure delivers each recipient exactly once; the same key with
//! a different body gets 422.
//!
//! Two mechanisms, both in the engine (so every instance agrees):
//! - **Per recipient**, each publish carries a [`DedupeToken`] derived from
//!   the key and the channel; the engine stores at most one event per token
//!   and channel, atomically with the store (engine contract). This is what
//!   makes a retry after a partial failure, or after a lost reply, exact.
//! - **Per request**, the answer is remembered in the engine channel
//!   `idempotency:<digest>` (kept 24 h) with a digest of the body, so a
//!   retry is answered without work, and a different body is refused.
//!
//! Keys are scoped per API (`notifications`, `tasks`) and are never logged.
//! This module owns neither the requests nor their answers' meaning.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::{DedupeToken, EngineError, EventId, PublishOptions, SharedEngine, DEDUPE_TTL};
use crate::server::error::ApiError;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// The request's `Idempotency-Key`, if it sent one; a malformed one is a
/// 400 naming the header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(HEADER) else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|key| !key.is_empty() && key.len() <= MAX_KEY_LEN)
            .filter(|key| key.bytes().all(|byte| byte.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::field(
                    "Idempotency-Key",
                    "an Idempotency-Key is 1–255 visible ASCII characters (a UUID is a good one)",
                )
            })?;
        Ok(Self(Some(key.to_owned())))
    }
}

/// A digest of a request body: what "the same request" means.
pub fn fingerprint(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

/// The token that makes `key`'s publish to `channel` happen at most once.
pub fn token(scope: &str, key: &str, channel: &str) -> DedupeToken {
    let mut token = [0u8; 16];
    token.copy_from_slice(&digest(&[scope, key, channel])[..16]);
    DedupeToken(token)
}

/// What is remembered of a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    fingerprint: String,
    status: u16,
    body: Value,
}

/// The remembered answers; cheap to clone.
#[derive(Clone)]
pub struct Idempotency {
    engine: SharedEngine,
}

impl Idempotency {
    /// Answers remembered in `engine`.
    pub fn new(engine: SharedEngine) -> Self {
        Self { engine }
    }

    fn channel(scope: &str, key: &str) -> String {
        format!("idempotency:{}", hex(&digest(&[scope, key])[..16]))
    }

    /// Runs `work` at most once per `key` (without a key: every time): a
    /// repeated request gets the first answer, another body with the same
    /// key 422. `work` itself must be safe to repeat after a failure (it
    /// is, with per-recipient [`token`]s), since only answers are recalled.
    pub async fn once<F, Fut>(
        &self,
        scope: &str,
        key: Option<&str>,
        fingerprint: &str,
        work: F,
    ) -> Result<(StatusCode, Value), ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(StatusCode, Value), ApiError>>,
    {
        if let Some(key) = key {
            if let Some(answer) = self.recall(scope, key, fingerprint).await? {
                return Ok(answer);
            }
        }
        let (status, body) = work().await?;
        if let Some(key) = key {
            self.remember(scope, key, fingerprint, status, &body).await;
        }
        Ok((status, body))
    }

    /// The first answer to this key, if there was one; 422 when the key
    /// was used with another body.
    pub async fn recall(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Option<(StatusCode, Value)>, ApiError> {
        let events = self.engine.latest(&Self::channel(scope, key), 1).await?;
        let Some(record) = events
            .last()
            .and_then(|event| serde_json::from_slice::<Record>(&event.data).ok())
        else {
            return Ok(None);
        };
        if record.fingerprint != fingerprint {
            return Err(ApiError::Unprocessable(
                "this Idempotency-Key was already used with a different request",
            ));
        }
        let status = StatusCode::from_u16(record.status).unwrap_or(StatusCode::OK);
        Ok(Some((status, record.body)))
    }

    /// Remembers the answer to this key for 24 h. The work is done by then,
    /// so a failure here is logged, not returned: a retry would still be
    /// exact (per-recipient tokens), only not answered from memory.
    pub async fn remember(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        status: StatusCode,
        body: &Value,
    ) {
        let channel = Self::channel(scope, key);
        let record = Record {
            fingerprint: fingerprint.to_owned(),
            status: status.as_u16(),
            body: body.clone(),
        };
        let data = match serde_json::to_vec(&record) {
            Ok(data) => Bytes::from(data),
            Err(error) => {
                tracing::error!(%error, "cannot encode an idempotency record");
                return;
            }
        };
        // First answer wins: a concurrent duplicate finds it stored.
        let options = PublishOptions {
            cap: Some(1),
            expect_last: Some(EventId::ZERO),
            ..PublishOptions::default()
        };
        let stored = match self
            .engine
            .publish_with(&channel, "answer", data, options)
            .await
        {
            Ok(_) | Err(EngineError::Conflict) => self.engine.expire(&channel, DEDUPE_TTL).await,
            Err(error) => Err(error),
        };
        if let Err(error) = stored {
            tracing::warn!(%error, "could not remember an idempotent answer");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_by_scope_key_and_channel_and_repeat_for_the_same() {
        let a = token("notifications", "k1", "inbox:alice");
        assert_eq!(a, token("notifications", "k1", "inbox:alice"));
        assert_ne!(a, token("notifications", "k1", "inbox:bob"));
        assert_ne!(a, token("notifications", "k2", "inbox:alice"));
        assert_ne!(a, token("tasks", "k1", "inbox:alice"));
    }

    #[test]
    fn fingerprints_are_body_digests() {
        assert_eq!(fingerprint(b"{}"), fingerprint(b"{}"));
        assert_ne!(fingerprint(b"{}"), fingerprint(b"{ }"));
        assert_eq!(fingerprint(b"").len(), 64);
    }
}
