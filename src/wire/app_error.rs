//! The error every server function returns: what the browser may show, and
//! nothing more. The server sets the HTTP status beside it; the browser
//! gets the same value back (JSON), so a page matches on a type instead of
//! parsing text.
//!
//! This module must not carry internals: an internal failure is logged on
//! the server and crosses as a vague sentence.

use std::fmt;

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Why a server function failed, as the caller may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// The server refused or failed the call: its HTTP status and a
    /// sentence for people ("name: …", "sign in first").
    Refused { status: u16, message: String },
    /// No answer the page could read (offline, server down).
    Unreachable,
}

impl AppError {
    /// A refusal with `status` and `message`.
    pub fn refused(status: u16, message: impl Into<String>) -> Self {
        Self::Refused {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { message, .. } => f.write_str(message),
            Self::Unreachable => f.write_str("The server could not be reached; try again."),
        }
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => Self::Unreachable,
            ServerFnErrorErr::Args(message)
            | ServerFnErrorErr::MissingArg(message)
            | ServerFnErrorErr::Deserialization(message) => Self::refused(400, message),
            other => Self::refused(500, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_read_the_servers_sentence_or_a_plain_one_when_it_is_unreachable() {
        assert_eq!(
            AppError::refused(400, "name: too long").to_string(),
            "name: too long"
        );
        let unreachable =
            AppError::from_server_fn_error(ServerFnErrorErr::Request("refused".into()));
        assert_eq!(unreachable, AppError::Unreachable);
        assert_eq!(
            unreachable.to_string(),
            "The server could not be reached; try again."
        );
    }

    #[test]
    fn it_crosses_as_json_and_back() {
        let error = AppError::refused(429, "slow down");
        assert_eq!(AppError::de(error.ser()), error);
    }
}
