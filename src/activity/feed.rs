//! What the activity page shows: entries newest first, at most
//! [`SHOWN`], each id once however often a reconnect replays it.

use crate::activity::model::Activity;
use crate::wire::EventId;

/// Entries kept on screen.
pub const SHOWN: usize = 20;

/// The entries on screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    entries: Vec<Activity>,
}

impl Feed {
    /// Adds `activity` (whose id came with its SSE event) unless it is
    /// already shown; keeps the newest [`SHOWN`].
    pub fn add(&mut self, activity: Activity) {
        let Some(key) = EventId::from_text(&activity.id) else {
            return;
        };
        if self.entries.iter().any(|entry| entry.id == activity.id) {
            return;
        }
        let at = self
            .entries
            .iter()
            .position(|entry| EventId::from_text(&entry.id) < Some(key))
            .unwrap_or(self.entries.len());
        self.entries.insert(at, activity);
        self.entries.truncate(SHOWN);
    }

    /// Newest first.
    pub fn entries(&self) -> &[Activity] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::model::ActivityType;

    fn entry(id: &str) -> Activity {
        Activity {
            id: id.into(),
            user: "ada".into(),
            action: "joined".into(),
            details: String::new(),
            timestamp: "2026-11-28T12:00:00.000Z".into(),
            kind: ActivityType::UserJoined,
        }
    }

    #[test]
    fn newest_first_once_each_and_capped() {
        let mut feed = Feed::default();
        feed.add(entry("5-0"));
        feed.add(entry("7-0"));
        feed.add(entry("6-0"));
        feed.add(entry("7-0"));
        let ids: Vec<&str> = feed.entries().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["7-0", "6-0", "5-0"]);
        for i in 10..40 {
            feed.add(entry(&format!("{i}-0")));
        }
        assert_eq!(feed.entries().len(), SHOWN);
        assert_eq!(feed.entries()[0].id, "39-0");
        feed.add(entry("not-an-id"));
        assert_eq!(feed.entries()[0].id, "39-0");
    }
}
