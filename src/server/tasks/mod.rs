//! Long-running tasks and their live progress.
//!
//! - [`service`]: creating tasks, applying progress reports atomically
//!   (compare-and-set on the task's channel, so any instance may report),
//!   cancelling, listing a user's tasks, expiring finished ones.
//! - [`runner`]: the demo worker that walks a task through its steps.
//! - [`api`]: `POST /api/tasks`, `POST /api/tasks/{id}/progress`,
//!   `GET /api/tasks/{id}` for backends (publisher key).
//! - [`stream`]: `GET /api/sse/tasks/{id}`.

pub mod api;
pub mod runner;
pub mod service;
pub mod stream;
