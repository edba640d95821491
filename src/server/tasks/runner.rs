//! The demo worker: walks a task through the tutorial's steps, about one
//! second each, reporting through [`Tasks::report`] like any real worker.
//!
//! It stops as soon as a report is refused (the task was cancelled from any
//! instance, or expired) or the server shuts down. It must not touch the
//! engine directly.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::service::{TaskError, Tasks};
use crate::server::activity::service::random_below;
use crate::tasks::model::{ProgressUpdate, TaskStatus};

/// The steps and the percentage each starts at.
pub const STEPS: [(&str, u8); 6] = [
    ("Initializing", 0),
    ("Processing data", 20),
    ("Analyzing content", 40),
    ("Generating results", 60),
    ("Optimizing output", 80),
    ("Finalizing", 95),
];

const REASONS: [&str; 3] = [
    "the input could not be parsed",
    "a worker ran out of memory",
    "an upstream service timed out",
];

/// Runs task `id` (named `name`) in the background; with `fail`, it fails
/// at a random step after the first.
pub fn spawn(
    tasks: Tasks,
    id: String,
    name: String,
    fail: bool,
    step_every: Duration,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let fail_at = fail.then(|| 1 + random_below(STEPS.len() - 1));
        if let Err(error) = run(&tasks, &id, &name, fail_at, step_every, &shutdown).await {
            match error {
                TaskError::Finished(status) => {
                    tracing::debug!(status = status.as_str(), "demo task stopped early")
                }
                error => tracing::warn!(%error, "demo task stopped"),
            }
        }
    });
}

async fn run(
    tasks: &Tasks,
    id: &str,
    name: &str,
    fail_at: Option<usize>,
    step_every: Duration,
    shutdown: &CancellationToken,
) -> Result<(), TaskError> {
    let report = |progress: u8, status: TaskStatus, message: String, step: &str| {
        tasks.report(
            id,
            ProgressUpdate {
                progress,
                status,
                message,
                step: Some(step.to_owned()),
            },
        )
    };
    for (index, &(step, progress)) in STEPS.iter().enumerate() {
        if fail_at == Some(index) {
            let reason = REASONS[random_below(REASONS.len())];
            let message = format!("{step} failed: {reason}");
            report(progress, TaskStatus::Failed, message, step).await?;
            return Ok(());
        }
        report(progress, TaskStatus::Processing, format!("{step}…"), step).await?;
        tokio::select! {
            () = tokio::time::sleep(step_every) => {}
            () = shutdown.cancelled() => {
                // Tell watchers rather than leave the task "processing".
                let message = "The server running this task shut down".to_owned();
                report(progress, TaskStatus::Failed, message, step).await?;
                return Ok(());
            }
        }
    }
    let message = format!("Task \"{name}\" completed successfully!");
    report(100, TaskStatus::Completed, message, "Done").await?;
    Ok(())
}
