//! Topics: named streams of notifications that users follow (`deploys`,
//! `billing`, `project:42`), so a backend publishes once to everyone who
//! follows.
//!
//! One name in every layer: this folder (the shared types), `server::topics`
//! (storage, the backend API `/api/topics/*`), the engine channels
//! `topic-def:<key>` and `follows:<user>`, the sets `topics` and
//! `followers:<key>` (docs/topics.md). It must not know how a notification
//! reaches a browser: the inbox feed does that.
//!
//! - [`model`]: topic keys, topics, what a backend sends to define one.

pub mod model;
