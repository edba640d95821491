//! Activity: the live feed of what happens in the app.
//!
//! One name in every layer: this folder, `server::activity` (the feed over
//! the engine, its SSE stream), the `activity` feed, and the Redis stream
//! `belfry:{activity}`.
//!
//! - [`model`]: activity entries.
//! - [`api`]: the simulate server function (`/api/activity/simulate`).
//! - [`feed`]: the browser's feed (newest first, capped, no duplicates).
//! - [`entry`]: one entry with its icon, colour and relative time.
//! - [`page`]: the `/activity` page.

pub mod api;
pub mod entry;
pub mod feed;
pub mod model;
pub mod page;
