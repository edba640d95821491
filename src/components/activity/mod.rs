//! The live activity feed.
//!
//! - [`actions`]: the simulate server function.
//! - [`feed`]: the feed model (newest first, capped, no duplicates).
//! - [`entry`]: one entry with its icon, colour and relative time.

pub mod actions;
pub mod entry;
pub mod feed;
