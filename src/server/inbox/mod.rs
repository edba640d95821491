//! Per-user notification inboxes on top of the engine.
//!
//! Each user's inbox is one engine channel, `inbox:<user>`, holding two kinds
//! of stored events: `notification` (a [`StoredNotification`]) and `read`
//! ([`ReadMarks`]). The channel is the single source of truth: read state,
//! unread counts and pages are folds over it ([`view::InboxView`]), so
//! replay after `Last-Event-ID` carries read changes too, and a read mark can
//! never outlive the notification it marks (history is trimmed oldest first).
//!
//! - [`view`]: folding a channel into notifications with read flags.
//! - [`service`]: publishing, marking read, paging, known users.
//! - [`stream`]: `GET /api/sse/notifications`.
//! - [`api`]: `POST /api/notifications` for backends.
//!
//! This module must not serve another user's inbox: every entry point takes
//! the user from the session (or, for publishing, from an authenticated
//! publisher's request), never from a client-chosen channel name.
//!
//! [`StoredNotification`]: crate::model::notification::StoredNotification
//! [`ReadMarks`]: crate::model::notification::ReadMarks

pub mod api;
pub mod service;
pub mod stream;
pub mod view;
