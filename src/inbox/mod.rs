//! The inbox: each user's notifications, read state and unread count, and
//! the bell that shows them.
//!
//! One name in every layer: this folder (shared types, server functions,
//! components, the `/notifications` page), `server::inbox` (storage, the
//! publish API, the SSE stream), the `inbox` feed, and the Redis stream
//! `belfry:{<user>}:inbox`.
//!
//! - [`model`]: notifications, their validation, inbox events and the read
//!   rule both sides fold by.
//! - [`api`]: server functions (`/api/inbox/*`): mark read, mark all,
//!   older, send.
//! - [`state`]: the browser's copy of the inbox and how events change it.
//! - [`center`]: the notification center (bell, panel, toasts together).
//! - [`bell`], [`panel`], [`item`], [`toasts`]: its parts.
//! - [`page`]: `/notifications`, the test dashboard.

pub mod api;
pub mod bell;
pub mod center;
pub mod item;
pub mod model;
pub mod page;
pub mod panel;
pub mod state;
pub mod toasts;
