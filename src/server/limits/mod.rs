//! Every limit an instance enforces on its callers, answered `429` with
//! `Retry-After` and the API's JSON error.
//!
//! - [`streams`]: open SSE streams per user, per client address and in all.
//! - [`rate`]: token buckets (governor) for publishing, signing in and
//!   dashboard sends.
//! - [`client_ip`]: which address a request counts against (the peer, or a
//!   trusted proxy's header).
//!
//! A limit of 0 means unlimited (the benches use that). This module counts
//! and refuses; it must not know what a stream or a publish carries.

pub mod client_ip;
pub mod rate;
pub mod streams;
