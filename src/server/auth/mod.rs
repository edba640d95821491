//! Who is calling: browser sessions and backend publishers.
//!
//! - [`token`]: HS256 session tokens (JWT), minted and verified.
//! - [`session`]: the `belfry_session` cookie and the [`session::CurrentSession`] extractor.
//! - [`publisher`]: the publisher key for `POST /api/notifications`.
//! - [`origin`]: refusing cross-site state changes (CSRF).
//! - [`session_end`]: streams end when their session expires or signs out.
//!
//! Secrets (the session secret, the publisher key) never leave this module
//! in logs, errors or pages.

pub mod origin;
pub mod publisher;
pub mod session;
pub mod session_end;
pub mod token;
