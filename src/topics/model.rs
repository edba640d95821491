//! Topic keys, topics and their validation: the public contract of
//! `/api/topics/*` (docs/topics.md).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::inbox::model::{check_text, FieldError};

/// A valid topic key: 1–64 characters, each a lowercase ASCII letter, a
/// digit, `-`, `_`, `.` or `:`, starting with a letter or a digit
/// (`deploys`, `project:42`). Holding one proves it was checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicKey(String);

/// Why a text is not a topic key; the message is fit to show to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTopicKey(pub &'static str);

impl fmt::Display for InvalidTopicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidTopicKey {}

impl TopicKey {
    /// Longest key accepted, in characters.
    pub const MAX_LEN: usize = 64;

    /// Parses `text` (nothing is trimmed or lowercased: either is an error).
    pub fn parse(text: &str) -> Result<Self, InvalidTopicKey> {
        if text.is_empty() {
            return Err(InvalidTopicKey("a topic key is required"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(InvalidTopicKey("a topic key has at most 64 characters"));
        }
        let allowed = |b: u8| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b':')
        };
        if !text.bytes().all(allowed) {
            return Err(InvalidTopicKey(
                "a topic key may use only lowercase letters, digits, '-', '_', '.' and ':'",
            ));
        }
        if !text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(InvalidTopicKey(
                "a topic key starts with a lowercase letter or a digit",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TopicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TopicKey {
    type Error = InvalidTopicKey;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TopicKey> for String {
    fn from(value: TopicKey) -> Self {
        value.0
    }
}

/// A topic as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// Its key (`deploys`).
    pub key: TopicKey,
    /// Its name, for people (`Deploys`).
    pub name: String,
    /// What it is about (may be empty).
    pub description: String,
    /// Users may follow it themselves; otherwise only a backend adds them.
    pub open: bool,
    /// Followers cannot leave it themselves (a backend still can remove them).
    pub required: bool,
}

/// A topic as its page shows it to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicChoice {
    /// The topic.
    pub topic: Topic,
    /// Whether the user follows it.
    pub following: bool,
}

impl TopicChoice {
    /// What the user may do with it: leave it (followed, not required),
    /// follow it (open, not followed), or neither.
    pub fn action(&self) -> Option<TopicAction> {
        match (self.following, self.topic.required, self.topic.open) {
            (true, false, _) => Some(TopicAction::Leave),
            (false, _, true) => Some(TopicAction::Follow),
            _ => None,
        }
    }
}

/// A change a user makes to what they follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicAction {
    /// Start following.
    Follow,
    /// Stop following.
    Leave,
}

/// Longest topic name, in characters.
pub const NAME_MAX: usize = 80;
/// Longest topic description, in characters.
pub const DESCRIPTION_MAX: usize = 500;

/// What a backend sends to create or change a topic
/// (`PUT /api/topics/{key}`); unset flags are `false`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDraft {
    /// Its name, for people.
    pub name: String,
    /// What it is about.
    #[serde(default)]
    pub description: Option<String>,
    /// Users may follow it themselves.
    #[serde(default)]
    pub open: Option<bool>,
    /// Followers cannot leave it themselves.
    #[serde(default)]
    pub required: Option<bool>,
}

impl TopicDraft {
    /// The topic `key` this draft describes, or the field that is wrong.
    pub fn validate(self, key: TopicKey) -> Result<Topic, FieldError> {
        if self.name.trim().is_empty() {
            return Err(FieldError::new("name", "a name is required"));
        }
        if self.name.chars().count() > NAME_MAX {
            return Err(FieldError::new("name", "a name has at most 80 characters"));
        }
        check_text("name", &self.name, false)?;
        let description = self.description.unwrap_or_default();
        if description.chars().count() > DESCRIPTION_MAX {
            return Err(FieldError::new(
                "description",
                "a description has at most 500 characters",
            ));
        }
        check_text("description", &description, true)?;
        Ok(Topic {
            key,
            name: self.name,
            description,
            open: self.open.unwrap_or(false),
            required: self.required.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_to_their_alphabet_and_length() {
        for good in ["deploys", "project:42", "a", "9.x_y-z", &"k".repeat(64)] {
            assert!(TopicKey::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "Deploys",
            "with space",
            "-leading",
            ":leading",
            "star*",
            "ünï",
            &"k".repeat(65),
        ] {
            assert!(TopicKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_draft_needs_a_name_and_bounds_its_texts() {
        let key = TopicKey::parse("deploys").unwrap();
        let draft = |name: &str, description: Option<&str>| TopicDraft {
            name: name.into(),
            description: description.map(Into::into),
            open: None,
            required: Some(true),
        };
        let topic = draft("Deploys", None).validate(key.clone()).unwrap();
        assert_eq!((topic.open, topic.required), (false, true));
        assert_eq!(
            draft(" ", None).validate(key.clone()).unwrap_err().field,
            "name"
        );
        assert_eq!(
            draft(&"n".repeat(81), None)
                .validate(key.clone())
                .unwrap_err()
                .field,
            "name"
        );
        assert_eq!(
            draft("ok", Some(&"d".repeat(501)))
                .validate(key)
                .unwrap_err()
                .field,
            "description"
        );
    }
}
