//! Reusable UI pieces. Each file is one component (or a tight family) and
//! owns its markup and styling; none of them fetches data on its own except
//! through [`crate::client`].
//!
//! - [`header`]: the top bar with brand and navigation.
//! - [`status_dot`]: the live-connection indicator.
//! - [`clock_card`]: the live server clock.
//! - [`coming_soon`]: placeholder for pages not built yet.
//! - [`notification_center`]: bell, panel and toasts.

pub mod clock_card;
pub mod coming_soon;
pub mod header;
pub mod notification_center;
pub mod status_dot;
