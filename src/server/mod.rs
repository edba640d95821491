//! Everything that only runs on the server (feature `ssr`).
//!
//! Owns configuration, start-up and shutdown, the HTTP router and its
//! handlers, and the one SSE implementation. Browser code never depends on
//! anything here; wire types shared with the browser live in
//! [`crate::wire`] and each feature's `model`.
//!
//! - [`config`]: settings from flags and environment, documented in one place.
//! - [`telemetry`]: structured logs.
//! - [`startup`]: builds the state and router, binds, serves, drains on shutdown.
//! - [`state`]: the state every handler shares.
//! - [`context`]: the state and user of a server function call.
//! - [`error`]: the API's error type (status + JSON).
//! - [`auth`]: sessions (cookie + HS256 token) and the publisher key.
//! - [`inbox`]: per-user notification inboxes, their stream and publish API.
//! - [`tasks`]: long-running tasks, their progress API, stream and demo runner.
//! - [`activity`]: the activity feed and its stream.
//! - [`topics`]: topics, who follows them, their backend API.
//! - [`feeds`]: one stream carrying many feeds, changed while it runs.
//! - [`limits`]: open-stream limits, rate limits, the client's address.
//! - [`http`]: the connection loop: header-read and write timeouts, drain.
//! - [`idempotency`]: `Idempotency-Key` on the publishing API.
//! - [`json_body`]: the API's JSON request bodies and their errors.
//! - [`sse`]: SSE framing, headers, heartbeats, teardown, open-stream count.
//! - [`clock`]: the server clock ticker and `GET /api/sse/clock`.
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`assets`]: cache lifetimes of the built (hashed, precompressed) assets.
//! - [`metrics`]: `/metrics` in the OpenMetrics text format.
//! - [`shutdown`]: waiting for SIGINT/SIGTERM.

pub mod activity;
pub mod assets;
pub mod auth;
pub mod clock;
pub mod config;
pub mod context;
pub mod error;
pub mod feeds;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod inbox;
pub mod json_body;
pub mod limits;
pub mod metrics;
pub mod shutdown;
pub mod sse;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod topics;
