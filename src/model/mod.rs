//! Each feature's payloads, shared by the server and the browser (the
//! protocol around them, ids, event names and framing, is [`crate::wire`]).
//!
//! Every type here is serialised by one side and parsed by the other, so a
//! field renamed here changes the protocol: keep `docs/` in step. Nothing
//! secret or server-internal belongs here. Parsing input into these types
//! ("parse, don't validate") lives beside them, so the browser can check a
//! form with the very rules the server enforces.
//!
//! - [`clock`]: the clock tick.
//! - [`user`]: user names.
//! - [`notification`]: notifications, their validation, and inbox events.
//! - [`task`]: long-running tasks, progress reports and their rules.
//! - [`activity`]: activity feed entries.

pub mod activity;
pub mod clock;
pub mod notification;
pub mod task;
pub mod user;

pub use clock::ClockTick;
