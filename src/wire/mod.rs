//! The protocol between server and browser, in one neutral place: event
//! ids, event names, the multiplexed stream's format, the end-of-session
//! event, and (server side) the SSE frame builder.
//!
//! Both the engine and the browser use these, so neither defines its own.
//! This module must not know how events are stored, routed or authorised,
//! nor what a feature's payloads hold (those live with the feature, in its
//! `model`, e.g. [`crate::inbox::model`]).
//!
//! - [`app_error`]: what a failed server function tells the browser.
//! - [`event_id`]: `<ms>-<seq>` positions, their order and parsing.
//! - [`names`]: every SSE event name.
//! - [`feed`]: the multiplexed stream (many feeds over one connection).
//! - [`session_end`]: why an authenticated stream ended.
//! - [`frame`] (ssr): fields to `text/event-stream` bytes, once per event.

pub mod app_error;
pub mod event_id;
pub mod feed;
#[cfg(feature = "ssr")]
pub mod frame;
pub mod names;
pub mod session_end;

pub use event_id::EventId;
