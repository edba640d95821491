//! UI pieces. Each file is one component (or a tight family) and owns its
//! markup and styling; none of them fetches data on its own except through
//! [`crate::client`] and the server functions beside them (`actions.rs`).
//!
//! - [`header`]: the top bar with brand and navigation.
//! - [`status_dot`]: the live-connection indicator.
//! - [`clock_card`]: the live server clock.
//! - [`notification_center`]: bell, panel and toasts.
//! - [`progress`]: task cards and the progress page's server functions.
//! - [`activity`]: activity entries, the feed model, simulate.
//! - [`sign_in_prompt`]: what visitors see instead of a members-only page.
//! - [`signed_in`]: members-only content, or what others see instead.
//! - [`page_heading`]: a page's title and lead sentence.

pub mod activity;
pub mod clock_card;
pub mod header;
pub mod notification_center;
pub mod page_heading;
pub mod progress;
pub mod sign_in_prompt;
pub mod signed_in;
pub mod status_dot;
