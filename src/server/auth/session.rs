//! The `belfry_session` cookie and the [`CurrentSession`] extractor.
//!
//! The cookie holds a session token ([`super::token`]); it is HttpOnly
//! (scripts cannot read it), SameSite=Lax (not sent on cross-site
//! sub-requests) and Secure when `BELFRY_COOKIE_SECURE` is set.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use cookie::{Cookie, SameSite};

use super::token::{Session, SessionKeys};
use crate::account::model::UserName;
use crate::server::error::ApiError;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "belfry_session";

/// How session cookies are issued.
#[derive(Debug, Clone)]
pub struct Sessions {
    /// Signing keys and lifetime.
    pub keys: SessionKeys,
    /// Whether cookies carry the `Secure` attribute (serve over HTTPS).
    pub secure_cookie: bool,
}

impl Sessions {
    /// The `Set-Cookie` value that signs `user` in.
    pub fn sign_in_cookie(&self, user: &UserName) -> String {
        let max_age = cookie::time::Duration::seconds(
            i64::try_from(self.keys.ttl().as_secs()).unwrap_or(i64::MAX),
        );
        Cookie::build((COOKIE_NAME, self.keys.mint(user)))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookie)
            .path("/")
            .max_age(max_age)
            .build()
            .to_string()
    }

    /// The `Set-Cookie` value that signs out (expires the cookie).
    pub fn sign_out_cookie(&self) -> String {
        Cookie::build((COOKIE_NAME, ""))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookie)
            .path("/")
            .max_age(cookie::time::Duration::ZERO)
            .build()
            .to_string()
    }

    /// The signed-in user of a request, if its cookie holds a valid token.
    pub fn user_of(&self, headers: &HeaderMap) -> Option<UserName> {
        self.session_of(headers).map(|session| session.user)
    }

    /// The session of a request, if its cookie holds a valid token.
    pub fn session_of(&self, headers: &HeaderMap) -> Option<Session> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|cookie| cookie.name() == COOKIE_NAME)
            .find_map(|cookie| self.keys.session(cookie.value()).ok())
    }
}

/// The signed-in session (user, end, identity); extracting it answers 401
/// when there is none. Streams use it to end when the session does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentSession(pub Session);

impl<S> FromRequestParts<S> for CurrentSession
where
    Sessions: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Sessions::from_ref(state)
            .session_of(&parts.headers)
            .map(CurrentSession)
            .ok_or(ApiError::Unauthorized(
                "sign in first: no valid session cookie",
            ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::HeaderValue;

    use super::*;

    fn sessions() -> Sessions {
        Sessions {
            keys: SessionKeys::new(b"k", Duration::from_secs(600)),
            secure_cookie: false,
        }
    }

    #[test]
    fn the_sign_in_cookie_is_http_only_and_same_site_lax() {
        let cookie = sessions().sign_in_cookie(&UserName::parse("alice").unwrap());
        assert!(cookie.starts_with("belfry_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "{cookie}");
    }

    #[test]
    fn the_user_is_read_back_from_a_cookie_header_among_others() {
        let sessions = sessions();
        let alice = UserName::parse("alice").unwrap();
        let token = sessions.keys.mint(&alice);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; belfry_session={token}; x=1")).unwrap(),
        );
        assert_eq!(sessions.user_of(&headers), Some(alice));
    }

    #[test]
    fn a_forged_cookie_is_no_session() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("belfry_session=abc.def.ghi"),
        );
        assert_eq!(sessions().user_of(&headers), None);
    }
}
