//! Session tokens: compact JWTs signed with HMAC-SHA256 (HS256).
//!
//! A host application can sign its own users in by minting the same token
//! with the shared secret (`BELFRY_SESSION_SECRET`): header
//! `{"alg":"HS256","typ":"JWT"}`, claims `{"sub": <user name>, "exp": <unix
//! seconds>}`. Only HS256 is accepted (no `alg: none`, no key confusion).
//! Signing uses the RustCrypto `hmac`/`sha2` crates (a full JWT crate would
//! pull RSA and elliptic-curve code we never use); verification compares in
//! constant time.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::model::user::UserName;

type HmacSha256 = Hmac<Sha256>;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The claims Belfry reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user name.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// Why a token was refused (never shown to clients in detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts, bad JSON, or not HS256.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is in the past.
    #[error("expired")]
    Expired,
    /// `sub` is not a valid user name.
    #[error("invalid subject")]
    InvalidSubject,
}

/// The signing key and session lifetime. `Debug` never shows the key.
#[derive(Clone)]
pub struct SessionKeys {
    secret: Arc<[u8]>,
    ttl: Duration,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl SessionKeys {
    /// Keys from a shared secret.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Self {
            secret: Arc::from(secret),
            ttl,
        }
    }

    /// How long a new session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// A token for `user`, valid for the session lifetime.
    pub fn mint(&self, user: &UserName) -> String {
        self.mint_claims(&Claims {
            sub: user.as_str().to_owned(),
            exp: now_secs() + self.ttl.as_secs(),
        })
    }

    /// A token with exactly these claims (tests and host applications).
    pub fn mint_claims(&self, claims: &Claims) -> String {
        let claims = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The user a token names, if its signature, algorithm and expiry hold.
    pub fn verify(&self, token: &str) -> Result<UserName, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(claims.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;

        #[derive(Deserialize)]
        struct Header {
            alg: String,
        }
        let header: Header = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Malformed);
        }
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(claims)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.exp <= now_secs() {
            return Err(TokenError::Expired);
        }
        UserName::parse(&claims.sub).map_err(|_| TokenError::InvalidSubject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(b"test-secret-of-some-length", Duration::from_secs(3600))
    }

    fn alice() -> UserName {
        UserName::parse("alice").unwrap()
    }

    #[test]
    fn a_minted_token_verifies_as_its_user() {
        let keys = keys();
        assert_eq!(keys.verify(&keys.mint(&alice())), Ok(alice()));
    }

    #[test]
    fn a_token_matches_an_independently_computed_hs256_signature() {
        // Computed independently with Python's hmac/hashlib/base64 modules,
        // so a host application minting tokens the same way interoperates.
        let keys = SessionKeys::new(b"secret", Duration::from_secs(60));
        let token = keys.mint_claims(&Claims {
            sub: "alice".into(),
            exp: 4_102_444_800,
        });
        assert_eq!(
            token,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.wuGrn2w2WEpEP2epqsNj8u9GIv6Gpu7JMRCXDgUyZyQ"
        );
        assert_eq!(keys.verify(&token), Ok(alice()));
    }

    #[test]
    fn another_secret_does_not_verify() {
        let token = keys().mint(&alice());
        let other = SessionKeys::new(b"another-secret", Duration::from_secs(3600));
        assert_eq!(other.verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_tampered_subject_does_not_verify() {
        let keys = keys();
        let token = keys.mint(&alice());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(r#"{"sub":"bob","exp":4102444800}"#);
        assert_eq!(keys.verify(&parts.join(".")), Err(TokenError::BadSignature));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = keys();
        let token = keys.mint_claims(&Claims {
            sub: "alice".into(),
            exp: now_secs() - 1,
        });
        assert_eq!(keys.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn other_algorithms_and_garbage_are_refused() {
        let keys = keys();
        assert_eq!(keys.verify(""), Err(TokenError::Malformed));
        assert_eq!(keys.verify("a.b"), Err(TokenError::Malformed));
        assert_eq!(keys.verify("a.b.c.d"), Err(TokenError::Malformed));
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"alice","exp":4102444800}"#);
        assert!(keys.verify(&format!("{none_header}.{claims}.")).is_err());
    }

    #[test]
    fn an_invalid_subject_is_refused_even_when_signed() {
        let keys = keys();
        let token = keys.mint_claims(&Claims {
            sub: "not valid!".into(),
            exp: 4_102_444_800,
        });
        assert_eq!(keys.verify(&token), Err(TokenError::InvalidSubject));
    }
}
