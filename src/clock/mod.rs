//! The clock: the server's time, ticking live on the home page.
//!
//! One name in every layer: this folder, `server::clock` (the ticker and
//! `GET /api/sse/clock`), and the `clock` feed.
//!
//! - [`model`]: the clock tick.
//! - [`card`]: the live clock card.

pub mod card;
pub mod model;

pub use model::ClockTick;
