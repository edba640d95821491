//! The progress tracker: start tasks, watch their bars move live, cancel.
//!
//! - [`actions`]: the server functions behind the page.
//! - [`task_card`]: one task, fed by its own progress stream while it runs.

pub mod actions;
pub mod task_card;
