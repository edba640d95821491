//! Topics on the server: their storage and the backend API.
//!
//! - [`service`]: defining topics, following them, the limits, what is
//!   stored where.
//! - [`api`]: `/api/topics/*` and `/api/users/{user}/topics` for backends
//!   (publisher key).
//!
//! This module decides who follows what; it must not deliver
//! notifications (the inbox feed reads the follow records it keeps).

pub mod api;
pub mod service;
