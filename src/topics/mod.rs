//! Topics: named streams of notifications that users follow (`deploys`,
//! `billing`, `project:42`), so a backend publishes once to everyone who
//! follows.
//!
//! One name in every layer: this folder (the shared types, the page and its
//! server functions), `server::topics`
//! (storage, the backend API `/api/topics/*`), the engine channels
//! `topic-def:<key>` and `follows:<user>`, the sets `topics` and
//! `followers:<key>` (docs/topics.md). It must not know how a notification
//! reaches a browser: the inbox feed does that.
//!
//! - [`model`]: topic keys, topics, what a backend sends to define one,
//!   and a topic as its page shows it to one user.
//! - [`api`]: the page's server functions (`/api/topics/_mine`, `_follow`,
//!   `_leave`).
//! - [`page`]: `/topics`, where a user follows and leaves topics.

pub mod api;
pub mod model;
pub mod page;
