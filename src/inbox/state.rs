//! The browser's copy of the inbox, and how each stream event changes it.
//!
//! A plain value with pure methods (no signals, no browser calls) so the
//! rules are unit-tested on the host: de-duplication by id, the exact unread
//! count (`unread` events are authoritative as of an id; later notifications
//! add to it), read marks, and paging.

use crate::inbox::model::{
    InboxPage, InboxSnapshot, Notification, ReadMarks, StoredNotification, UnreadCount,
};
use crate::wire::EventId;

/// What the browser knows of the signed-in user's inbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxModel {
    /// Loaded notifications, newest first.
    pub items: Vec<Notification>,
    /// Unread notifications in the whole inbox.
    pub unread: u32,
    /// The newest event the unread count already includes.
    pub counted_through: Option<EventId>,
    /// Whether older notifications can be loaded.
    pub has_more: bool,
    /// Whether a snapshot has arrived yet.
    pub loaded: bool,
}

impl InboxModel {
    /// Replaces everything with a fresh snapshot.
    pub fn apply_snapshot(&mut self, snapshot: InboxSnapshot) {
        self.items = snapshot.notifications;
        self.unread = snapshot.unread;
        self.counted_through = snapshot.as_of.as_deref().and_then(EventId::from_text);
        self.has_more = snapshot.has_more;
        self.loaded = true;
    }

    /// Adds a newly published notification; returns it if it was not
    /// already known (so the caller can toast it), `None` for a duplicate.
    pub fn apply_notification(
        &mut self,
        id: &str,
        stored: StoredNotification,
    ) -> Option<Notification> {
        let key = EventId::from_text(id)?;
        if self.items.iter().any(|n| n.id == id) {
            return None;
        }
        if self.counted_through.is_none_or(|counted| key > counted) {
            self.unread = self.unread.saturating_add(1);
        }
        let notification = Notification::from_stored(id.to_owned(), stored, false);
        let position = self
            .items
            .iter()
            .position(|n| EventId::from_text(&n.id).is_some_and(|other| other < key))
            .unwrap_or(self.items.len());
        self.items.insert(position, notification.clone());
        Some(notification)
    }

    /// Applies read marks to the loaded notifications. The count is fixed
    /// by the `unread` event that follows every `read` event.
    pub fn apply_read(&mut self, marks: &ReadMarks) {
        let rule = marks.rule();
        for item in &mut self.items {
            item.read |= EventId::from_text(&item.id).is_some_and(|id| rule.covers(id));
        }
    }

    /// Sets the exact unread count.
    pub fn apply_unread(&mut self, count: &UnreadCount) {
        self.unread = count.unread;
        self.counted_through = count.as_of.as_deref().and_then(EventId::from_text);
    }

    /// Appends an older page.
    pub fn append_older(&mut self, page: InboxPage) {
        for notification in page.notifications {
            if !self.items.iter().any(|n| n.id == notification.id) {
                self.items.push(notification);
            }
        }
        self.has_more = page.has_more;
    }

    /// The oldest loaded id (where "Load older" continues).
    pub fn oldest_id(&self) -> Option<String> {
        self.items.last().map(|n| n.id.clone())
    }

    /// Marks one loaded item read right away (the server confirms by event).
    pub fn mark_read_locally(&mut self, id: &str) {
        if let Some(item) = self.items.iter_mut().find(|n| n.id == id && !n.read) {
            item.read = true;
            self.unread = self.unread.saturating_sub(1);
        }
    }

    /// Marks everything read right away (the server confirms by event).
    pub fn mark_all_read_locally(&mut self) {
        for item in &mut self.items {
            item.read = true;
        }
        self.unread = 0;
    }
}

/// The badge text: nothing at zero, the count up to 99, then "99+".
pub fn badge_text(unread: u32) -> Option<String> {
    match unread {
        0 => None,
        1..=99 => Some(unread.to_string()),
        _ => Some("99+".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(title: &str) -> StoredNotification {
        StoredNotification::example(title)
    }

    fn snapshot(unread: u32, as_of: &str, ids: &[&str]) -> InboxSnapshot {
        InboxSnapshot {
            notifications: ids
                .iter()
                .map(|id| Notification::from_stored((*id).into(), stored(id), false))
                .collect(),
            unread,
            as_of: Some(as_of.into()),
            has_more: false,
        }
    }

    #[test]
    fn a_live_notification_is_added_once_and_counted_once() {
        let mut model = InboxModel::default();
        model.apply_snapshot(snapshot(1, "10-0", &["10-0"]));
        assert!(model.apply_notification("11-0", stored("new")).is_some());
        assert!(
            model.apply_notification("11-0", stored("new")).is_none(),
            "duplicates are dropped"
        );
        assert_eq!(model.unread, 2);
        assert_eq!(model.items[0].id, "11-0", "newest first");
    }

    #[test]
    fn notifications_already_counted_do_not_raise_the_count() {
        let mut model = InboxModel::default();
        model.apply_snapshot(snapshot(0, "10-0", &[]));
        model.apply_unread(&UnreadCount {
            unread: 3,
            as_of: Some("12-0".into()),
        });
        model.apply_notification("11-0", stored("a"));
        model.apply_notification("12-0", stored("b"));
        assert_eq!(model.unread, 3, "both were in the exact count already");
        model.apply_notification("13-0", stored("c"));
        assert_eq!(model.unread, 4);
    }

    #[test]
    fn read_marks_by_id_and_range_mark_loaded_items() {
        let mut model = InboxModel::default();
        model.apply_snapshot(snapshot(3, "3-0", &["3-0", "2-0", "1-0"]));
        model.apply_read(&ReadMarks {
            ids: vec!["3-0".into()],
            through: None,
        });
        assert!(model.items[0].read && !model.items[1].read);
        model.apply_read(&ReadMarks {
            ids: vec![],
            through: Some("2-0".into()),
        });
        assert!(model.items.iter().all(|n| n.read));
    }

    #[test]
    fn older_pages_append_without_duplicates() {
        let mut model = InboxModel::default();
        model.apply_snapshot(snapshot(0, "3-0", &["3-0", "2-0"]));
        model.append_older(InboxPage {
            notifications: vec![
                Notification::from_stored("2-0".into(), stored("2"), true),
                Notification::from_stored("1-0".into(), stored("1"), true),
            ],
            has_more: false,
        });
        assert_eq!(
            model
                .items
                .iter()
                .map(|n| n.id.as_str())
                .collect::<Vec<_>>(),
            ["3-0", "2-0", "1-0"]
        );
        assert_eq!(model.oldest_id().as_deref(), Some("1-0"));
    }

    #[test]
    fn the_badge_shows_99_plus_above_99_and_nothing_at_zero() {
        assert_eq!(badge_text(0), None);
        assert_eq!(badge_text(7).as_deref(), Some("7"));
        assert_eq!(badge_text(99).as_deref(), Some("99"));
        assert_eq!(badge_text(100).as_deref(), Some("99+"));
    }
}
