//! Browser-side plumbing shared by components.
//!
//! - [`dom`]: popover behaviours (Escape, outside click), intervals, links.
//! - [`feeds`]: live feeds as signals, one stream per browser.
//! - [`hydration`]: `<body data-hydrated>` once every island has hydrated.
//! - [`time`]: formatting instants for people.
//!
//! Functions here compile for the server too (so components can call them
//! during SSR) but only do their work in the browser; the browser-only parts
//! are gated once, inside each module.

pub mod dom;
pub mod feeds;
pub mod hydration;
pub mod time;
