//! Long-running tasks and their progress: what a worker reports, what a
//! watcher receives, and the rules an update must follow.
//!
//! The rules live here ([`TaskState::apply`]) so the HTTP API, the demo
//! runner and the tests enforce exactly the same ones. Nothing here knows
//! where tasks are stored.

use serde::{Deserialize, Serialize};

use crate::inbox::model::{check_text, FieldError};

/// Longest task name, in characters.
pub const NAME_MAX: usize = 80;
/// Longest progress message, in characters.
pub const MESSAGE_MAX: usize = 300;
/// Longest step label, in characters.
pub const STEP_MAX: usize = 80;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Created, not started.
    Pending,
    /// Running.
    Processing,
    /// Finished well (terminal).
    Completed,
    /// Finished badly (terminal).
    Failed,
    /// Stopped on request (terminal).
    Cancelled,
}

impl TaskStatus {
    /// Whether no update may follow.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What starts a task (`POST /api/tasks` and the page's form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    /// 1–80 characters, not blank, without control or bidi-override
    /// characters (the rule titles follow).
    pub name: String,
    /// Let the server's demo runner walk the task through its steps
    /// (the page always does; a backend reporting itself leaves it off).
    #[serde(default)]
    pub simulate: bool,
    /// With `simulate`: end as failed at a random step.
    #[serde(default)]
    pub fail: bool,
}

impl NewTask {
    /// The trimmed name, if acceptable.
    pub fn validated_name(&self) -> Result<String, FieldError> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(FieldError::new("name", "a task name is required"));
        }
        if name.chars().count() > NAME_MAX {
            return Err(FieldError::new(
                "name",
                "a task name has at most 80 characters",
            ));
        }
        check_text("name", name, false)?;
        Ok(name.to_owned())
    }
}

/// A progress report from a worker (`POST /api/tasks/{id}/progress`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressUpdate {
    /// 0–100; never lower than the last report.
    pub progress: u8,
    /// The new status.
    pub status: TaskStatus,
    /// What is happening, for people (≤ 300 characters).
    #[serde(default)]
    pub message: String,
    /// The current step's label, if any (≤ 80 characters).
    #[serde(default)]
    pub step: Option<String>,
}

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateError {
    /// A field is out of range (400).
    Field(FieldError),
    /// The task already ended (409).
    Finished(TaskStatus),
    /// Progress would go back from this value (409).
    Backwards(u8),
}

/// A task as watchers see it: the payload of every `progress` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    /// Opaque, unguessable id.
    pub id: String,
    /// The name it was started with.
    pub name: String,
    /// The user who started it from the page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When it was created, RFC 3339 UTC.
    pub created_at: String,
    /// Where it is.
    pub status: TaskStatus,
    /// 0–100.
    pub progress: u8,
    /// The current step's label.
    #[serde(default)]
    pub step: Option<String>,
    /// What is happening.
    #[serde(default)]
    pub message: String,
    /// When this state was reached, RFC 3339 UTC.
    pub updated_at: String,
}

impl TaskState {
    /// A new, pending task.
    pub fn pending(id: String, name: String, now: String) -> Self {
        Self {
            id,
            name,
            owner: None,
            created_at: now.clone(),
            status: TaskStatus::Pending,
            progress: 0,
            step: None,
            message: "Waiting to start".into(),
            updated_at: now,
        }
    }

    /// The state after `update`, or why it cannot follow this one:
    /// nothing follows a terminal status, progress never goes back, and a
    /// completed task is at 100 %.
    pub fn apply(&self, update: ProgressUpdate, now: String) -> Result<TaskState, UpdateError> {
        if self.status.is_terminal() {
            return Err(UpdateError::Finished(self.status));
        }
        if update.status == TaskStatus::Pending && self.status != TaskStatus::Pending {
            return Err(UpdateError::Field(FieldError::new(
                "status",
                "a started task cannot be pending again",
            )));
        }
        if update.progress > 100 {
            return Err(UpdateError::Field(FieldError::new(
                "progress",
                "progress is a percentage from 0 to 100",
            )));
        }
        if update.progress < self.progress {
            return Err(UpdateError::Backwards(self.progress));
        }
        if update.message.chars().count() > MESSAGE_MAX {
            return Err(UpdateError::Field(FieldError::new(
                "message",
                "a message has at most 300 characters",
            )));
        }
        if update
            .step
            .as_ref()
            .is_some_and(|step| step.chars().count() > STEP_MAX)
        {
            return Err(UpdateError::Field(FieldError::new(
                "step",
                "a step has at most 80 characters",
            )));
        }
        let progress = if update.status == TaskStatus::Completed {
            100
        } else {
            update.progress
        };
        Ok(TaskState {
            id: self.id.clone(),
            name: self.name.clone(),
            owner: self.owner.clone(),
            created_at: self.created_at.clone(),
            status: update.status,
            progress,
            step: update.step.or_else(|| self.step.clone()),
            message: update.message,
            updated_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(progress: u8) -> TaskState {
        TaskState {
            status: TaskStatus::Processing,
            progress,
            ..TaskState::pending("t".into(), "n".into(), "now".into())
        }
    }

    fn update(progress: u8, status: TaskStatus) -> ProgressUpdate {
        ProgressUpdate {
            progress,
            status,
            message: String::new(),
            step: None,
        }
    }

    #[test]
    fn progress_moves_forward_only() {
        let state = running(40);
        assert!(state
            .apply(update(40, TaskStatus::Processing), "t".into())
            .is_ok());
        assert!(state
            .apply(update(60, TaskStatus::Processing), "t".into())
            .is_ok());
        assert_eq!(
            state.apply(update(20, TaskStatus::Processing), "t".into()),
            Err(UpdateError::Backwards(40))
        );
        assert!(matches!(
            state.apply(update(101, TaskStatus::Processing), "t".into()),
            Err(UpdateError::Field(_))
        ));
    }

    #[test]
    fn a_started_task_is_never_pending_again() {
        assert!(matches!(
            running(10).apply(update(10, TaskStatus::Pending), "t".into()),
            Err(UpdateError::Field(field)) if field.field == "status"
        ));
    }

    #[test]
    fn nothing_follows_a_terminal_status() {
        for end in [
            TaskStatus::Completed,
            TaskStatus::Failed,
            TaskStatus::Cancelled,
        ] {
            let done = running(50).apply(update(50, end), "t".into()).unwrap();
            assert!(matches!(
                done.apply(update(60, TaskStatus::Processing), "t".into()),
                Err(UpdateError::Finished(status)) if status == end
            ));
        }
    }

    #[test]
    fn completing_sets_100_and_names_are_checked() {
        let done = running(95)
            .apply(update(95, TaskStatus::Completed), "t".into())
            .unwrap();
        assert_eq!(done.progress, 100);
        let blank = NewTask {
            name: "  ".into(),
            simulate: true,
            fail: false,
        };
        assert!(blank.validated_name().is_err());
        for bad in ["deploy\u{202E}gpj.exe", "two\nlines", "bell\u{7}"] {
            let refused = NewTask {
                name: bad.into(),
                simulate: true,
                fail: false,
            }
            .validated_name()
            .unwrap_err();
            assert_eq!(refused.field, "name", "{bad:?}");
        }
        let long = NewTask {
            name: "x".repeat(81),
            simulate: true,
            fail: false,
        };
        assert!(long.validated_name().is_err());
    }
}
