//! User names (who a notification is for, who is signed in) and the
//! signed-in account as the UI sees it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The signed-in user, as the UI needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user name.
    pub name: String,
}

/// A valid user name: 1–32 characters, each an ASCII letter, digit, `-`,
/// `_` or `.`. Holding one proves it was checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

/// Why a text is not a user name; the message is fit to show to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUserName(pub &'static str);

impl fmt::Display for InvalidUserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidUserName {}

impl UserName {
    /// Longest name accepted, in characters.
    pub const MAX_LEN: usize = 32;

    /// Parses `text` (surrounding whitespace is not trimmed: it is an error).
    pub fn parse(text: &str) -> Result<Self, InvalidUserName> {
        if text.is_empty() {
            return Err(InvalidUserName("a name is required"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(InvalidUserName("a name has at most 32 characters"));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(InvalidUserName(
                "a name may use only letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserName {
    type Error = InvalidUserName;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserName> for String {
    fn from(value: UserName) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_letters_digits_and_dash_underscore_dot_are_accepted() {
        for name in ["a", "alice", "Bob-2", "c_d.e", &"x".repeat(32)] {
            assert_eq!(
                UserName::parse(name).map(|n| n.to_string()),
                Ok(name.to_owned())
            );
        }
    }

    #[test]
    fn empty_long_or_odd_names_are_rejected() {
        for name in [
            "",
            &"x".repeat(33),
            "al ice",
            " alice",
            "ali/ce",
            "é",
            "a:b",
            "<b>",
        ] {
            assert!(UserName::parse(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn deserialising_checks_the_name() {
        assert!(serde_json::from_str::<UserName>("\"bob\"").is_ok());
        assert!(serde_json::from_str::<UserName>("\"b b\"").is_err());
    }
}
