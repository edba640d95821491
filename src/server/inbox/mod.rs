//! Per-user notification inboxes on top of the engine.
//!
//! Each user's inbox is one engine channel, `inbox:<user>`, holding
//! `notification` events ([`StoredNotification`]); its history cap counts
//! notifications only. Read state lives apart, in `reads:<user>`: one
//! compact record ([`ReadMarks`]: a watermark plus the read ids above it),
//! replaced by compare-and-set on every change, so marking read never
//! evicts anything. Views, unread counts and pages fold the inbox and apply
//! the record ([`view::InboxView`]); `read` events that older versions
//! stored in the inbox are still folded in.
//!
//! - [`view`]: folding a channel into notifications with read flags.
//! - [`service`]: publishing, marking read, paging, known users.
//! - [`stream`]: `GET /api/sse/inbox`.
//! - [`api`]: `POST /api/notifications` for backends.
//!
//! This module must not serve another user's inbox: every entry point takes
//! the user from the session (or, for publishing, from an authenticated
//! publisher's request), never from a client-chosen channel name.
//!
//! [`StoredNotification`]: crate::inbox::model::StoredNotification
//! [`ReadMarks`]: crate::inbox::model::ReadMarks

pub mod api;
pub mod service;
pub mod stream;
pub mod view;
