//! Browser-side plumbing shared by components.
//!
//! - [`event_source`]: an `EventSource` as Leptos signals, closed on unmount.
//! - [`time`]: formatting instants for people.
//!
//! Functions here compile for the server too (so components can call them
//! during SSR) but only do their work in the browser; the browser-only parts
//! are gated once, inside each module.

pub mod event_source;
pub mod time;
