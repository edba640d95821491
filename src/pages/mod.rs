//! One module per page; each owns its route's content (and, later, its
//! server functions).
//!
//! - [`home`]: the live clock.
//! - [`sign_in`]: choosing a display name.
//! - [`notifications`], [`progress`], [`activity`]: the demo pages.

pub mod activity;
pub mod home;
pub mod notifications;
pub mod progress;
pub mod sign_in;
