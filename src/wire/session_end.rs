//! Why an authenticated stream ended: the data of its last event
//! ([`crate::wire::names::SESSION_END`]), sent by the server, acted on by
//! the browser.

use serde::{Deserialize, Serialize};

/// Why a session's stream ended (the `session_end` event's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SessionEnd {
    /// The session token expired: the browser re-checks its session (a host
    /// app refreshes the cookie) and resumes with its last event id.
    Expired,
    /// This browser signed out.
    SignedOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_a_tagged_snake_case_word() {
        assert_eq!(
            serde_json::to_string(&SessionEnd::SignedOut).unwrap(),
            r#"{"reason":"signed_out"}"#
        );
        assert_eq!(
            serde_json::from_str::<SessionEnd>(r#"{"reason":"expired"}"#).unwrap(),
            SessionEnd::Expired
        );
    }
}
