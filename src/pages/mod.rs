//! One module per page; each owns its route's content: the server-rendered
//! text and its live widget, an `#[island(lazy)]` loaded as a chunk of its
//! own. Server functions sit beside the components that call them.
//!
//! - [`home`]: the live clock.
//! - [`sign_in`]: choosing a display name.
//! - [`notifications`], [`progress`], [`activity`]: the demo pages.

pub mod activity;
pub mod home;
pub mod notifications;
pub mod progress;
pub mod sign_in;
