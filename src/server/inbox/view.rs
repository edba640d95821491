//! Folding an inbox channel into what a user sees.

use std::sync::Arc;

use crate::engine::{Event, EventId};
use crate::inbox::model::{
    InboxPage, InboxSnapshot, Notification, ReadMarks, StoredNotification, UnreadCount,
};
use crate::wire::names;

/// One notification in a folded inbox.
#[derive(Debug, Clone)]
struct Entry {
    id: EventId,
    stored: StoredNotification,
    read: bool,
}

/// An inbox as of its newest event: notifications (oldest first) with read flags.
#[derive(Debug, Clone, Default)]
pub struct InboxView {
    entries: Vec<Entry>,
    newest: Option<EventId>,
}

impl InboxView {
    /// Applies `events` (oldest first) in order. Events that cannot be
    /// parsed (e.g. written by a faulty backend straight into Redis) are
    /// skipped with a warning rather than breaking the whole inbox.
    pub fn fold(events: &[Arc<Event>]) -> Self {
        let mut view = Self::default();
        for event in events {
            view.newest = Some(event.id);
            match event.name.as_str() {
                names::NOTIFICATION => {
                    match serde_json::from_slice::<StoredNotification>(&event.data) {
                        Ok(stored) => view.entries.push(Entry {
                            id: event.id,
                            stored,
                            read: false,
                        }),
                        Err(error) => {
                            tracing::warn!(id = %event.id, %error, "skipping an unreadable notification")
                        }
                    }
                }
                names::READ => match serde_json::from_slice::<ReadMarks>(&event.data) {
                    Ok(marks) => view.apply(&marks),
                    Err(error) => {
                        tracing::warn!(id = %event.id, %error, "skipping unreadable read marks")
                    }
                },
                other => tracing::debug!(name = other, "ignoring an unknown inbox event"),
            }
        }
        view
    }

    /// Marks read what `marks` says is read (a union: read state only grows).
    pub fn apply(&mut self, marks: &ReadMarks) {
        let rule = marks.rule();
        for entry in &mut self.entries {
            entry.read |= rule.covers(entry.id);
        }
    }

    fn find_mut(&mut self, id: EventId) -> Option<&mut Entry> {
        let index = self.entries.binary_search_by(|e| e.id.cmp(&id)).ok()?;
        self.entries.get_mut(index)
    }

    /// Marks `id` read, if the inbox holds it.
    pub fn mark(&mut self, id: EventId) {
        if let Some(entry) = self.find_mut(id) {
            entry.read = true;
        }
    }

    /// The read state in its compact form: a watermark (every notification
    /// up to it is read) plus the read ids above it. Its size is bounded by
    /// the unread-interleaved reads, never by how often marks were made.
    pub fn read_state(&self) -> ReadMarks {
        let prefix = self.entries.iter().take_while(|e| e.read).count();
        let through = prefix
            .checked_sub(1)
            .map(|last| self.entries[last].id.to_string());
        let ids = self.entries[prefix..]
            .iter()
            .filter(|e| e.read)
            .map(|e| e.id.to_string())
            .collect();
        ReadMarks { ids, through }
    }

    /// Whether the inbox holds notification `id`, and if so whether it is read.
    pub fn is_read(&self, id: EventId) -> Option<bool> {
        let index = self.entries.binary_search_by(|e| e.id.cmp(&id)).ok()?;
        self.entries.get(index).map(|e| e.read)
    }

    /// The newest notification's id.
    pub fn newest_notification(&self) -> Option<EventId> {
        self.entries.last().map(|e| e.id)
    }

    /// Unread notifications.
    pub fn unread(&self) -> u32 {
        u32::try_from(self.entries.iter().filter(|e| !e.read).count()).unwrap_or(u32::MAX)
    }

    /// The exact unread count as of the newest event.
    pub fn unread_count(&self) -> UnreadCount {
        UnreadCount {
            unread: self.unread(),
            as_of: self.newest.map(|id| id.to_string()),
        }
    }

    /// The newest event folded in.
    pub fn newest(&self) -> Option<EventId> {
        self.newest
    }

    /// The latest `limit` notifications and the unread count.
    pub fn snapshot(&self, limit: usize) -> InboxSnapshot {
        let page = self.page_before(None, limit);
        InboxSnapshot {
            notifications: page.notifications,
            unread: self.unread(),
            as_of: self.newest.map(|id| id.to_string()),
            has_more: page.has_more,
        }
    }

    /// Up to `limit` notifications older than `before` (or the newest ones),
    /// newest first.
    pub fn page_before(&self, before: Option<EventId>, limit: usize) -> InboxPage {
        let end = before.map_or(self.entries.len(), |before| {
            self.entries.partition_point(|e| e.id < before)
        });
        let start = end.saturating_sub(limit);
        let notifications = self.entries[start..end]
            .iter()
            .rev()
            .map(|entry| {
                Notification::from_stored(entry.id.to_string(), entry.stored.clone(), entry.read)
            })
            .collect();
        InboxPage {
            notifications,
            has_more: start > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn notification(ms: u64, title: &str) -> Arc<Event> {
        let stored = StoredNotification::example(title);
        Arc::new(Event::new(
            EventId::new(ms, 0),
            names::NOTIFICATION,
            Bytes::from(serde_json::to_vec(&stored).unwrap()),
        ))
    }

    fn read(ms: u64, marks: &ReadMarks) -> Arc<Event> {
        Arc::new(Event::new(
            EventId::new(ms, 0),
            names::READ,
            Bytes::from(serde_json::to_vec(marks).unwrap()),
        ))
    }

    #[test]
    fn read_marks_by_id_and_through_an_id_are_applied_in_order() {
        let events = vec![
            notification(1, "a"),
            notification(2, "b"),
            notification(3, "c"),
            read(
                4,
                &ReadMarks {
                    ids: vec!["2-0".into()],
                    through: None,
                },
            ),
            notification(5, "d"),
        ];
        let view = InboxView::fold(&events);
        assert_eq!(view.unread(), 3);
        assert_eq!(view.is_read(EventId::new(2, 0)), Some(true));
        assert_eq!(
            view.is_read(EventId::new(4, 0)),
            None,
            "a read event is not a notification"
        );

        let mut events = events;
        events.push(read(
            6,
            &ReadMarks {
                ids: vec![],
                through: Some("3-0".into()),
            },
        ));
        let view = InboxView::fold(&events);
        assert_eq!(view.unread(), 1, "only d is unread");
        assert_eq!(view.unread_count().as_of.as_deref(), Some("6-0"));
    }

    #[test]
    fn snapshots_and_pages_are_newest_first_with_has_more() {
        let events: Vec<_> = (1..=25)
            .map(|n| notification(n, &format!("n{n}")))
            .collect();
        let view = InboxView::fold(&events);
        let snapshot = view.snapshot(20);
        assert_eq!(snapshot.notifications.len(), 20);
        assert_eq!(snapshot.notifications[0].title, "n25");
        assert!(snapshot.has_more);
        let older = view.page_before(Some(EventId::new(6, 0)), 20);
        assert_eq!(
            older
                .notifications
                .iter()
                .map(|n| n.title.as_str())
                .collect::<Vec<_>>(),
            ["n5", "n4", "n3", "n2", "n1"]
        );
        assert!(!older.has_more);
    }

    #[test]
    fn the_compact_read_state_is_a_watermark_plus_the_ids_above_it() {
        let events: Vec<_> = (1..=5).map(|n| notification(n, "n")).collect();
        let mut view = InboxView::fold(&events);
        assert_eq!(view.read_state(), ReadMarks::default());
        view.mark(EventId::new(1, 0));
        view.mark(EventId::new(2, 0));
        view.mark(EventId::new(4, 0));
        let state = view.read_state();
        assert_eq!(state.through.as_deref(), Some("2-0"));
        assert_eq!(state.ids, ["4-0"]);
        let mut fresh = InboxView::fold(&events);
        fresh.apply(&state);
        assert_eq!(
            fresh.unread(),
            2,
            "applying the compact state gives the same view"
        );
    }

    #[test]
    fn unreadable_events_are_skipped() {
        let junk = Arc::new(Event::new(
            EventId::new(2, 0),
            names::NOTIFICATION,
            Bytes::from_static(b"{"),
        ));
        let view = InboxView::fold(&[notification(1, "ok"), junk]);
        assert_eq!(view.unread(), 1);
        assert_eq!(view.newest(), Some(EventId::new(2, 0)));
    }
}
