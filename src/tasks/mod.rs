//! Tasks: long-running jobs whose progress streams live to their owner.
//!
//! One name in every layer: this folder (shared types, server functions,
//! components, the `/progress` page), `server::tasks` (state over the
//! engine, the worker API, the demo runner, the SSE stream), the
//! `task:<id>` feed, and the Redis stream `belfry:{<id>}:tasks`.
//!
//! - [`model`]: task state, progress reports and the rules they follow.
//! - [`api`]: server functions (`/api/tasks/*`): start, cancel, mine.
//! - [`card`]: one task with its live progress bar.
//! - [`page`]: `/progress`, where tasks are started and watched.

pub mod api;
pub mod card;
pub mod model;
pub mod page;
