//! Session tokens: compact JWTs signed with HMAC-SHA256 (HS256).
//!
//! A host application can sign its own users in by minting the same token
//! with the shared secret (`BELFRY_SESSION_SECRET`): header
//! `{"alg":"HS256","typ":"JWT"}`, claims `{"sub": <user name>, "exp": <unix
//! seconds>}`, optionally `nbf`, `iss` and `aud`. Only HS256 is accepted (no
//! `alg: none`, no key confusion). `exp` and `nbf` are checked with a clock
//! leeway (`BELFRY_SESSION_LEEWAY_SECS`); `iss` and `aud` only when the
//! operator configured them, and then they are required.
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

use crate::account::model::UserName;

type HmacSha256 = Hmac<Sha256>;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The claims Belfry reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user name.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not valid before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Who minted the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Who the token is for: one name or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
}

/// A JWT `aud` claim: a string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    fn names(&self, wanted: &str) -> bool {
        match self {
            Self::One(name) => name == wanted,
            Self::Many(names) => names.iter().any(|name| name == wanted),
        }
    }
}

/// What a valid token proves: who, until when, and which session it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The signed-in user.
    pub user: UserName,
    /// When the token stops being accepted (its `exp` plus the leeway),
    /// seconds since the Unix epoch. A stream of this session ends then.
    pub valid_until: u64,
    /// Identifies this token (a digest of its signature), so signing out
    /// can end exactly this browser's streams. Not a secret on its own.
    pub id: SessionId,
}

/// A session's identity: the first 16 bytes of its token's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; 16]);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl std::str::FromStr for SessionId {
    type Err = TokenError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| TokenError::Malformed)?;
        bytes
            .try_into()
            .map(SessionId)
            .map_err(|_| TokenError::Malformed)
    }
}

/// What is checked besides the signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenChecks {
    /// Clock difference tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud` entry, when set.
    pub audience: Option<String>,
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
    /// `exp` is in the past (beyond the leeway).
    #[error("expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("not yet valid")]
    NotYetValid,
    /// `iss` or `aud` is not what this server is configured to accept.
    #[error("wrong issuer or audience")]
    WrongParty,
    /// `sub` is not a valid user name.
    #[error("invalid subject")]
    InvalidSubject,
}

/// The signing key and session lifetime. `Debug` never shows the key.
#[derive(Clone)]
pub struct SessionKeys {
    secret: Arc<[u8]>,
    ttl: Duration,
    checks: Arc<TokenChecks>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("ttl", &self.ttl)
            .field("checks", &self.checks)
            .finish_non_exhaustive()
    }
}

/// The latest end a session can have: 9999-12-31T23:59:59Z. A token whose
/// `exp` lies beyond is served as if it ended then ("never expires").
pub const LATEST_END: u64 = 253_402_300_799;

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
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
            checks: Arc::default(),
        }
    }

    /// The same keys, verifying with `checks` (and minting with its issuer
    /// and audience, so demo sessions pass them too).
    pub fn with_checks(mut self, checks: TokenChecks) -> Self {
        self.checks = Arc::new(checks);
        self
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

    /// `len` hex digits derived from `input` with the secret (HMAC), under
    /// `label`: unpredictable to anyone without the secret, the same on
    /// every instance. For ids that must repeat for a repeated request.
    pub fn derive_hex(&self, label: &str, input: &str, len: usize) -> String {
        let mut mac = self.mac();
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(input.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        hex[..len.min(hex.len())].to_owned()
    }

    /// A token for `user`, valid for the session lifetime.
    pub fn mint(&self, user: &UserName) -> String {
        self.mint_claims(&Claims {
            sub: user.as_str().to_owned(),
            exp: now_secs() + self.ttl.as_secs(),
            iss: self.checks.issuer.clone(),
            aud: self.checks.audience.clone().map(Audience::One),
            ..Claims::default()
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
        self.session(token).map(|session| session.user)
    }

    /// The session a token proves, if its signature, algorithm, times,
    /// issuer and audience hold.
    pub fn session(&self, token: &str) -> Result<Session, TokenError> {
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
        let now = now_secs();
        let leeway = self.checks.leeway.as_secs();
        // Hosts mint "never expires" as `exp` near `i64::MAX`; every later
        // use of the end (timers, cookie ages) must stay in range.
        let valid_until = claims.exp.saturating_add(leeway).min(LATEST_END);
        if valid_until <= now {
            return Err(TokenError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(TokenError::NotYetValid);
        }
        if let Some(issuer) = &self.checks.issuer {
            if claims.iss.as_deref() != Some(issuer.as_str()) {
                return Err(TokenError::WrongParty);
            }
        }
        if let Some(audience) = &self.checks.audience {
            if !claims.aud.as_ref().is_some_and(|aud| aud.names(audience)) {
                return Err(TokenError::WrongParty);
            }
        }
        let user = UserName::parse(&claims.sub).map_err(|_| TokenError::InvalidSubject)?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&signature[..16]);
        Ok(Session {
            user,
            valid_until,
            id: SessionId(id),
        })
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
            ..Claims::default()
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
            ..Claims::default()
        });
        assert_eq!(keys.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn the_leeway_accepts_a_token_just_past_its_expiry_and_ends_it_later() {
        let keys = keys().with_checks(TokenChecks {
            leeway: Duration::from_secs(60),
            ..TokenChecks::default()
        });
        let exp = now_secs() - 30;
        let token = keys.mint_claims(&Claims {
            sub: "alice".into(),
            exp,
            ..Claims::default()
        });
        let session = keys.session(&token).expect("within the leeway");
        assert_eq!(session.valid_until, exp + 60);
        let too_old = keys.mint_claims(&Claims {
            sub: "alice".into(),
            exp: now_secs() - 61,
            ..Claims::default()
        });
        assert_eq!(keys.verify(&too_old), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_not_yet_valid_is_refused_beyond_the_leeway() {
        let keys = keys().with_checks(TokenChecks {
            leeway: Duration::from_secs(5),
            ..TokenChecks::default()
        });
        let claims = |nbf| Claims {
            sub: "alice".into(),
            exp: 4_102_444_800,
            nbf: Some(nbf),
            ..Claims::default()
        };
        assert!(keys
            .verify(&keys.mint_claims(&claims(now_secs() + 3)))
            .is_ok());
        assert_eq!(
            keys.verify(&keys.mint_claims(&claims(now_secs() + 60))),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn issuer_and_audience_are_required_once_configured() {
        let plain = keys();
        let strict = keys().with_checks(TokenChecks {
            issuer: Some("https://app.example.com".into()),
            audience: Some("belfry".into()),
            ..TokenChecks::default()
        });
        let claims = |iss: Option<&str>, aud: Option<Audience>| Claims {
            sub: "alice".into(),
            exp: 4_102_444_800,
            iss: iss.map(str::to_owned),
            aud,
            ..Claims::default()
        };
        let bare = plain.mint_claims(&claims(None, None));
        assert!(plain.verify(&bare).is_ok(), "no checks configured");
        assert_eq!(strict.verify(&bare), Err(TokenError::WrongParty));
        let right = strict.mint_claims(&claims(
            Some("https://app.example.com"),
            Some(Audience::Many(vec!["other".into(), "belfry".into()])),
        ));
        assert_eq!(strict.verify(&right), Ok(alice()));
        let wrong_aud = strict.mint_claims(&claims(
            Some("https://app.example.com"),
            Some(Audience::One("other".into())),
        ));
        assert_eq!(strict.verify(&wrong_aud), Err(TokenError::WrongParty));
        let wrong_iss = strict.mint_claims(&claims(
            Some("https://evil.example"),
            Some(Audience::One("belfry".into())),
        ));
        assert_eq!(strict.verify(&wrong_iss), Err(TokenError::WrongParty));
        assert_eq!(
            strict.verify(&strict.mint(&alice())),
            Ok(alice()),
            "Belfry's own tokens carry the configured claims"
        );
    }

    #[test]
    fn a_session_id_is_the_same_for_the_same_token_and_round_trips() {
        let keys = keys();
        let token = keys.mint(&alice());
        let id = keys.session(&token).unwrap().id;
        assert_eq!(keys.session(&token).unwrap().id, id);
        assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
        let other = keys.mint_claims(&Claims {
            sub: "alice".into(),
            exp: 4_102_444_801,
            ..Claims::default()
        });
        assert_ne!(keys.session(&other).unwrap().id, id);
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
            ..Claims::default()
        });
        assert_eq!(keys.verify(&token), Err(TokenError::InvalidSubject));
    }
}
