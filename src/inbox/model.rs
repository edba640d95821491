//! Notifications: what a publisher sends, what the inbox stores, what the
//! browser receives, and the events of the inbox stream.
//!
//! Validation lives here (`NotificationDraft::validate`) so the API, the
//! server functions and the browser's forms all apply the same rules.

use serde::{Deserialize, Serialize};

use crate::wire::EventId;

/// How a notification presents itself: icon and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    /// Neutral information.
    Info,
    /// Something went well.
    Success,
    /// Something needs attention.
    Warning,
    /// Something failed.
    Error,
}

impl NotificationKind {
    /// Every kind, in display order.
    pub const ALL: [NotificationKind; 4] = [Self::Info, Self::Success, Self::Warning, Self::Error];

    /// The lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    /// Reads [`Self::as_str`] back.
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == word)
    }

    /// The capitalised name people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Info => "Info",
            Self::Success => "Success",
            Self::Warning => "Warning",
            Self::Error => "Error",
        }
    }
}

/// A notification as a publisher submits it, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationDraft {
    /// info, success, warning or error.
    pub kind: NotificationKind,
    /// 1–120 characters, not blank.
    pub title: String,
    /// At most 1,000 characters.
    #[serde(default)]
    pub body: String,
    /// An `http:`/`https:` URL or a `/`-relative path.
    #[serde(default)]
    pub link: Option<String>,
}

/// A rejected field: which one, and why (fit to show to a person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name as it appears in the JSON body.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Longest title, in characters.
pub const TITLE_MAX: usize = 120;
/// Longest body, in characters.
pub const BODY_MAX: usize = 1000;
/// Longest link, in bytes.
pub const LINK_MAX: usize = 2048;

impl NotificationDraft {
    /// Checks every field; the first problem found is returned.
    pub fn validate(self) -> Result<NotificationContent, FieldError> {
        let title_len = self.title.chars().count();
        if self.title.trim().is_empty() {
            return Err(FieldError::new("title", "a title is required"));
        }
        if title_len > TITLE_MAX {
            return Err(FieldError::new(
                "title",
                "a title has at most 120 characters",
            ));
        }
        if self.body.chars().count() > BODY_MAX {
            return Err(FieldError::new(
                "body",
                "a body has at most 1000 characters",
            ));
        }
        check_text("title", &self.title, false)?;
        check_text("body", &self.body, true)?;
        let link = match self.link {
            Some(link) if link.is_empty() => None,
            Some(link) => Some(check_link(link)?),
            None => None,
        };
        Ok(NotificationContent {
            kind: self.kind,
            title: self.title,
            body: self.body,
            link,
        })
    }
}

/// Unicode's bidirectional embedding, override and isolate controls
/// (U+202A–U+202E, U+2066–U+2069): they can make text read differently
/// from what it says ("Trojan Source"), so titles and bodies refuse them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Refuses control characters (a body may keep line breaks and tabs) and
/// bidi controls, naming the field. Refused rather than stripped, so what a
/// publisher sent is exactly what readers see, or nothing is stored. Every
/// text people read follows this rule (task names too).
pub fn check_text(field: &str, text: &str, multi_line: bool) -> Result<(), FieldError> {
    let bad = text.chars().find(|&c| {
        (c.is_control() && !(multi_line && matches!(c, '\n' | '\t'))) || is_bidi_control(c)
    });
    match bad {
        Some(c) => Err(FieldError::new(
            field,
            format!(
                "control and bidi-override characters are not allowed (found U+{:04X})",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// Where a link may take a reader: an `http:`/`https:` URL with a host, or
/// a path on this site (one leading `/`, not `//host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkTarget {
    /// A path on this site: navigate within the app.
    SameSite,
    /// Another site over http(s): load it as a new page.
    External,
}

/// Classifies `link`, or `None` when it is not safe to follow (any other
/// scheme such as `javascript:` or `data:`, control characters, spaces,
/// backslashes, protocol-relative `//host`). The server checks links when
/// they are published; the browser checks again before following one,
/// because a writer straight into Redis bypasses the server.
pub fn link_target(link: &str) -> Option<LinkTarget> {
    if link.is_empty()
        || link.len() > LINK_MAX
        || link
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\' || is_bidi_control(c))
    {
        return None;
    }
    let lower = link.to_ascii_lowercase();
    let after_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match after_scheme {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            (!host.is_empty() && !host.starts_with('@')).then_some(LinkTarget::External)
        }
        // A path on this site; `//host` would be another site.
        None => (link.starts_with('/') && !link.starts_with("//")).then_some(LinkTarget::SameSite),
    }
}

fn check_link(link: String) -> Result<String, FieldError> {
    match link_target(&link) {
        Some(_) => Ok(link),
        None => Err(FieldError::new(
            "link",
            "a link must be an http(s) URL or a path starting with a single '/'",
        )),
    }
}

/// A validated notification's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationContent {
    /// Presentation kind.
    pub kind: NotificationKind,
    /// Title (1–120 characters).
    pub title: String,
    /// Body (≤ 1,000 characters).
    pub body: String,
    /// Optional safe link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// What the inbox stores for a notification (the payload of a
/// `notification` event); its id is the event id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredNotification {
    /// The content.
    #[serde(flatten)]
    pub content: NotificationContent,
    /// When it was published, RFC 3339 UTC.
    pub created_at: String,
}

/// A notification as the browser shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Its id in the user's inbox (`<ms>-<seq>`); ids increase per user.
    pub id: String,
    /// Presentation kind.
    pub kind: NotificationKind,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Optional link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// When it was published, RFC 3339 UTC.
    pub created_at: String,
    /// Whether the user has read it.
    pub read: bool,
}

impl Notification {
    /// A notification from its stored form.
    pub fn from_stored(id: String, stored: StoredNotification, read: bool) -> Self {
        Self {
            id,
            kind: stored.content.kind,
            title: stored.content.title,
            body: stored.content.body,
            link: stored.content.link,
            created_at: stored.created_at,
            read,
        }
    }
}

/// Read marks, stored in the inbox as a `read` event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarks {
    /// These notifications are now read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Every notification with an id up to and including this one is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
}

impl ReadMarks {
    /// The marks as a rule over ids, parsed once. Both the server's inbox
    /// and the browser's copy fold read state by it, so they agree.
    pub fn rule(&self) -> ReadRule {
        let mut ids: Vec<EventId> = self
            .ids
            .iter()
            .filter_map(|id| EventId::from_text(id))
            .collect();
        ids.sort_unstable();
        ReadRule {
            through: self.through.as_deref().and_then(EventId::from_text),
            ids,
        }
    }
}

/// What read marks say, ready to ask of each notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadRule {
    through: Option<EventId>,
    ids: Vec<EventId>,
}

impl ReadRule {
    /// Whether notification `id` is read under these marks: at or below the
    /// watermark, or named. Read state only grows, so callers set, never
    /// clear, a read flag by it.
    pub fn covers(&self, id: EventId) -> bool {
        self.through.is_some_and(|through| id <= through) || self.ids.binary_search(&id).is_ok()
    }
}

/// The exact unread count once every event up to `as_of` is applied. A
/// client that later receives a notification with an id at or below `as_of`
/// must not count it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadCount {
    /// Unread notifications.
    pub unread: u32,
    /// The newest inbox event the count includes.
    pub as_of: Option<String>,
}

/// The first event of a fresh inbox stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxSnapshot {
    /// The latest notifications, newest first.
    pub notifications: Vec<Notification>,
    /// Unread notifications in the whole inbox, as of `as_of`.
    pub unread: u32,
    /// The newest inbox event this snapshot includes.
    pub as_of: Option<String>,
    /// Whether older notifications can be loaded.
    pub has_more: bool,
}

/// A page of older notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxPage {
    /// Notifications, newest first.
    pub notifications: Vec<Notification>,
    /// Whether even older ones exist.
    pub has_more: bool,
}

/// A plain info notification titled `title`, for tests on either side.
#[cfg(test)]
impl StoredNotification {
    pub fn example(title: &str) -> Self {
        Self {
            content: NotificationContent {
                kind: NotificationKind::Info,
                title: title.into(),
                body: String::new(),
                link: None,
            },
            created_at: "2026-11-28T10:00:00.000Z".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(title: &str, body: &str, link: Option<&str>) -> NotificationDraft {
        NotificationDraft {
            kind: NotificationKind::Info,
            title: title.into(),
            body: body.into(),
            link: link.map(Into::into),
        }
    }

    fn field_of(result: Result<NotificationContent, FieldError>) -> String {
        result.expect_err("rejected").field
    }

    #[test]
    fn a_plain_notification_is_valid() {
        let content = draft("Deploy finished", "All green.", Some("/builds/42"))
            .validate()
            .unwrap();
        assert_eq!(content.link.as_deref(), Some("/builds/42"));
    }

    #[test]
    fn titles_must_be_one_to_120_characters_and_not_blank() {
        assert_eq!(field_of(draft("", "", None).validate()), "title");
        assert_eq!(field_of(draft("   ", "", None).validate()), "title");
        assert_eq!(
            field_of(draft(&"t".repeat(121), "", None).validate()),
            "title"
        );
        assert!(
            draft(&"é".repeat(120), "", None).validate().is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn bodies_have_at_most_1000_characters() {
        assert!(draft("t", &"b".repeat(1000), None).validate().is_ok());
        assert_eq!(
            field_of(draft("t", &"b".repeat(1001), None).validate()),
            "body"
        );
    }

    #[test]
    fn links_must_be_http_urls_or_local_paths() {
        for ok in [
            "https://example.com/x?y#z",
            "http://localhost:3000",
            "/inbox",
            "HTTPS://EXAMPLE.COM",
        ] {
            assert!(draft("t", "", Some(ok)).validate().is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "//evil.example",
            "/\\evil.example",
            "https://",
            "https://@evil",
            "inbox",
            "ftp://example.com",
            "/a b",
            "https://example.com/\nx",
        ] {
            assert_eq!(
                field_of(draft("t", "", Some(bad)).validate()),
                "link",
                "{bad}"
            );
        }
    }

    #[test]
    fn control_and_bidi_characters_are_refused_naming_the_field() {
        for title in [
            "a\u{0}b",
            "line\nbreak",
            "tab\there",
            "\u{202E}gnp.exe",
            "x\u{2066}y",
            "\u{1b}[31m",
        ] {
            assert_eq!(
                field_of(draft(title, "", None).validate()),
                "title",
                "{title:?}"
            );
        }
        for body in ["a\u{7}b", "\u{202D}override", "\r\n", "x\u{2069}"] {
            assert_eq!(
                field_of(draft("t", body, None).validate()),
                "body",
                "{body:?}"
            );
        }
        let error = draft("t", "\u{202E}", None).validate().unwrap_err();
        assert!(error.message.contains("U+202E"), "{}", error.message);
        assert!(
            draft("t", "two\nlines\twith a tab", None)
                .validate()
                .is_ok(),
            "a body keeps line breaks and tabs"
        );
        assert!(
            draft("Größe ✓ עברית 日本", "emoji 🔔", None)
                .validate()
                .is_ok(),
            "ordinary non-ASCII text passes"
        );
    }

    #[test]
    fn the_browser_side_link_check_classifies_what_it_may_follow() {
        assert_eq!(link_target("/inbox"), Some(LinkTarget::SameSite));
        assert_eq!(
            link_target("https://example.com"),
            Some(LinkTarget::External)
        );
        for bad in [
            "javascript:alert(document.cookie)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,x",
            "vbscript:x",
            "//evil.example",
            "",
            "\u{202E}/x",
        ] {
            assert_eq!(link_target(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_empty_link_means_no_link() {
        assert_eq!(draft("t", "", Some("")).validate().unwrap().link, None);
    }

    #[test]
    fn unknown_kinds_do_not_deserialise() {
        let parsed = serde_json::from_str::<NotificationDraft>(r#"{"kind":"spam","title":"t"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn read_marks_cover_the_watermark_and_the_named_ids_only() {
        let marks = ReadMarks {
            ids: vec!["9-0".into(), "12-3".into(), "junk".into()],
            through: Some("5-1".into()),
        };
        let rule = marks.rule();
        for read in ["1-0", "5-0", "5-1", "9-0", "12-3"] {
            assert!(rule.covers(read.parse().unwrap()), "{read} is read");
        }
        for unread in ["5-2", "8-0", "12-2", "13-0"] {
            assert!(!rule.covers(unread.parse().unwrap()), "{unread} is unread");
        }
        assert!(!ReadMarks::default().rule().covers(EventId::new(1, 0)));
    }
}
