//! The publisher key: what backends present to `POST /api/notifications`.
//!
//! `Authorization: Bearer <key>` where the key is `BELFRY_PUBLISH_KEY`. With
//! no key configured the API is off (503, saying how to turn it on). Keys
//! are compared in constant time and never logged.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::server::error::ApiError;
use crate::server::limits::client_ip::ClientIp;
use crate::server::limits::rate::RateLimits;

/// The configured publisher key, if any. `Debug` never shows it.
#[derive(Clone, Default)]
pub struct PublisherKey(Option<Arc<str>>);

impl std::fmt::Debug for PublisherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "PublisherKey(<set>)"
        } else {
            "PublisherKey(<unset>)"
        })
    }
}

impl PublisherKey {
    /// A key, or none (API disabled). An empty key counts as none.
    pub fn new(key: Option<&str>) -> Self {
        Self(key.filter(|k| !k.is_empty()).map(Arc::from))
    }

    /// Checks an `Authorization` header value against the key.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        let Some(expected) = &self.0 else {
            return Err(ApiError::Unavailable {
                message: "the publishing API is disabled: set BELFRY_PUBLISH_KEY to enable it"
                    .into(),
                retry_after: None,
            });
        };
        let Some(given) = authorization.and_then(|value| value.strip_prefix("Bearer ")) else {
            return Err(ApiError::Unauthorized(
                "missing publisher key: send Authorization: Bearer <key>",
            ));
        };
        if bool::from(given.trim().as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("the publisher key is not valid"))
        }
    }
}

/// Proof that the request carries the publisher key, within the key's rate
/// (429 with `Retry-After` past it). A client address that sent too many
/// wrong keys gets 429 before its key is even checked, so keys cannot be
/// guessed at full speed.
#[derive(Debug, Clone, Copy)]
pub struct Publisher;

impl<S> FromRequestParts<S> for Publisher
where
    PublisherKey: FromRef<S>,
    RateLimits: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let ip = parts.extensions.get::<ClientIp>().and_then(|ip| ip.0);
        let rate = RateLimits::from_ref(state);
        rate.before_key_check(ip)?;
        if let Err(refused) = PublisherKey::from_ref(state).check(authorization) {
            if matches!(refused, ApiError::Unauthorized(_) | ApiError::Forbidden(_)) {
                rate.wrong_key(ip);
            }
            return Err(refused);
        }
        rate.publish()?;
        Ok(Publisher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_configured_means_the_api_is_off() {
        let result = PublisherKey::new(None).check(Some("Bearer x"));
        assert!(matches!(result, Err(ApiError::Unavailable { .. })));
        assert!(matches!(
            PublisherKey::new(Some("")).check(None),
            Err(ApiError::Unavailable { .. })
        ));
    }

    #[test]
    fn missing_wrong_and_right_keys() {
        let key = PublisherKey::new(Some("s3cret"));
        assert!(matches!(key.check(None), Err(ApiError::Unauthorized(_))));
        assert!(matches!(
            key.check(Some("Basic s3cret")),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            key.check(Some("Bearer nope")),
            Err(ApiError::Forbidden(_))
        ));
        assert!(key.check(Some("Bearer s3cret")).is_ok());
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert!(!format!("{:?}", PublisherKey::new(Some("s3cret"))).contains("s3cret"));
    }
}
