//! The multiplexed stream: every feed a browser tab shows (inbox, tasks,
//! activity, clock) over one SSE connection, changed without reconnecting.
//!
//! - [`open`]: starting one feed for a viewer, with its authorisation.
//! - [`mux`]: the stream body that carries many feeds and takes changes.
//! - [`mailbox`]: the orders waiting for one stream.
//! - [`registry`]: this instance's open streams by id, and changes
//!   forwarded from other instances through the engine.
//! - [`api`]: `GET /api/sse/feeds` and `POST /api/feeds/{stream}`.
//!
//! The wire format is [`crate::wire::feed`]. Each feed is produced by its
//! own module (`inbox`, `tasks`, `activity`, `clock`) framed as a tagged
//! feed; this module must not know what the feeds carry.

pub mod api;
pub mod mailbox;
pub mod mux;
pub mod open;
pub mod registry;
