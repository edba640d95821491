//! The activity feed: what happens in the app, recorded and streamed.
//!
//! - [`service`]: recording entries (sign-ins, finished tasks, broadcasts,
//!   the simulator) into one capped engine channel.
//! - [`stream`]: `GET /api/sse/activity`.

pub mod service;
pub mod stream;
