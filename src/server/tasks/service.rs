//! Task state over the engine: one channel per task (`tasks:<id>`), whose
//! newest event is the task's state.
//!
//! Every change is a conditional publish on the newest event id, so two
//! reporters on two instances can never interleave into a state that moves
//! backwards or past a terminal status. Starting a task hands simulated
//! ones to the demo worker ([`super::runner`]), which reports through
//! [`Tasks::report`] like any worker. It must not know about HTTP.

use std::time::Duration;

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use tokio_util::sync::CancellationToken;

use crate::account::model::UserName;
use crate::activity::model::ActivityType;
use crate::engine::{EngineError, EventId, PublishOptions, SharedEngine};
use crate::inbox::model::FieldError;
use crate::server::activity::service::ActivityFeed;
use crate::tasks::model::{NewTask, ProgressUpdate, TaskState, TaskStatus, UpdateError};
use crate::wire::names::PROGRESS;

/// Events kept per task channel (enough to replay a reconnect).
const TASK_HISTORY: usize = 50;
/// A task that nobody reports on for this long is forgotten (its worker is
/// gone); every report starts the clock again.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);
/// Attempts at a conditional update before giving up under contention.
const ATTEMPTS: usize = 8;

/// Why a task operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No such task (never existed, or expired).
    #[error("no such task")]
    NotFound,
    /// A field is invalid.
    #[error("{0}")]
    Field(FieldError),
    /// The task already ended.
    #[error("the task already ended ({})", .0.as_str())]
    Finished(TaskStatus),
    /// Progress would go backwards.
    #[error("progress never goes back (it is at {0} %)")]
    Backwards(u8),
    /// The store failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The engine channel of task `id`.
pub fn channel(id: &str) -> String {
    format!("tasks:{id}")
}

fn user_set(user: &UserName) -> String {
    format!("tasks:{user}")
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A new task id: 128 random bits in hex, unguessable.
fn new_id() -> Result<String, EngineError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| EngineError::Unavailable(format!("no randomness: {error}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Task ids are 32 lower-case hex digits; anything else is unknown.
pub fn is_task_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How the demo worker runs the tasks that ask for it (`simulate`).
#[derive(Clone)]
pub struct DemoWorker {
    /// How long each step takes.
    pub step_every: Duration,
    /// Cancelled when the server shuts down: running demo tasks stop.
    pub shutdown: CancellationToken,
}

/// Task operations; cheap to clone.
#[derive(Clone)]
pub struct Tasks {
    engine: SharedEngine,
    activity: ActivityFeed,
    keep_finished: Duration,
    demo: DemoWorker,
}

impl Tasks {
    /// Tasks stored in `engine`; finished ones are kept for `keep_finished`;
    /// those that ask to be simulated are run by `demo`.
    pub fn new(
        engine: SharedEngine,
        activity: ActivityFeed,
        keep_finished: Duration,
        demo: DemoWorker,
    ) -> Self {
        Self {
            engine,
            activity,
            keep_finished,
            demo,
        }
    }

    /// Starts the task `request` describes (with `id` when given, see
    /// [`Tasks::create_as`]), listed under `owner` if given. A task that asks
    /// to be simulated gets the demo worker, once: a repeated `id` starts
    /// none.
    pub async fn start(
        &self,
        request: NewTask,
        owner: Option<&UserName>,
        id: Option<String>,
    ) -> Result<TaskState, TaskError> {
        let name = request.validated_name().map_err(TaskError::Field)?;
        let (task, created) = match id {
            Some(id) => self.create_as(id, name.clone(), owner).await?,
            None => (self.create(name.clone(), owner).await?, true),
        };
        if request.simulate && created {
            super::runner::spawn(
                self.clone(),
                task.id.clone(),
                name,
                request.fail,
                self.demo.step_every,
                self.demo.shutdown.clone(),
            );
        }
        Ok(task)
    }

    /// The engine underneath (for streaming).
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// Creates a pending task named `name`, listed under `owner` if given.
    pub async fn create(
        &self,
        name: String,
        owner: Option<&UserName>,
    ) -> Result<TaskState, TaskError> {
        self.create_as(new_id()?, name, owner)
            .await
            .map(|(state, _)| state)
    }

    /// [`Tasks::create`] with a given id (an idempotent request's, derived
    /// from its key): when a task with that id exists already, it is
    /// returned as it is now, with `false` (nothing was created).
    pub async fn create_as(
        &self,
        id: String,
        name: String,
        owner: Option<&UserName>,
    ) -> Result<(TaskState, bool), TaskError> {
        let mut state = TaskState::pending(id, name, now());
        state.owner = owner.map(ToString::to_string);
        match self.store(&state, EventId::ZERO).await {
            Ok(()) => {}
            Err(EngineError::Conflict) => {
                let (_, existing) = self.current(&state.id).await?.ok_or(TaskError::NotFound)?;
                return Ok((existing, false));
            }
            Err(error) => return Err(error.into()),
        }
        self.engine.expire(&channel(&state.id), STALE_AFTER).await?;
        if let Some(owner) = owner {
            self.engine.remember(&user_set(owner), &state.id).await?;
        }
        Ok((state, true))
    }

    /// The task's state and the id of the event holding it.
    pub async fn current(&self, id: &str) -> Result<Option<(EventId, TaskState)>, TaskError> {
        if !is_task_id(id) {
            return Ok(None);
        }
        let events = self.engine.latest(&channel(id), 1).await?;
        Ok(events.last().and_then(|event| {
            serde_json::from_slice::<TaskState>(&event.data)
                .ok()
                .map(|state| (event.id, state))
        }))
    }

    /// Applies a progress report; returns the new state.
    pub async fn report(&self, id: &str, update: ProgressUpdate) -> Result<TaskState, TaskError> {
        self.change(id, |state| state.apply(update.clone(), now()))
            .await
    }

    /// Cancels a running task of `user`'s, at whatever progress it reached.
    pub async fn cancel(&self, id: &str, user: &UserName) -> Result<TaskState, TaskError> {
        if !self.is_owned_by(id, user).await? {
            return Err(TaskError::NotFound);
        }
        self.change(id, |state| {
            state.apply(
                ProgressUpdate {
                    progress: state.progress,
                    status: TaskStatus::Cancelled,
                    message: format!("Cancelled by {user}"),
                    step: None,
                },
                now(),
            )
        })
        .await
    }

    /// Moves task `id` to `next(current)`, as a compare-and-set on its
    /// newest event, retrying when another reporter got there first.
    async fn change(
        &self,
        id: &str,
        next: impl Fn(&TaskState) -> Result<TaskState, UpdateError>,
    ) -> Result<TaskState, TaskError> {
        for _ in 0..ATTEMPTS {
            let (last, state) = self.current(id).await?.ok_or(TaskError::NotFound)?;
            let next = match next(&state) {
                Ok(next) => next,
                Err(UpdateError::Finished(status)) => return Err(TaskError::Finished(status)),
                Err(UpdateError::Backwards(at)) => return Err(TaskError::Backwards(at)),
                Err(UpdateError::Field(field)) => return Err(TaskError::Field(field)),
            };
            match self.store(&next, last).await {
                Ok(()) => {
                    if next.status.is_terminal() {
                        self.finished(&next).await;
                    } else {
                        self.engine.expire(&channel(id), STALE_AFTER).await?;
                    }
                    return Ok(next);
                }
                Err(EngineError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Unavailable("too many concurrent updates".into()).into())
    }

    /// Whether `id` is one of `user`'s tasks.
    pub async fn is_owned_by(&self, id: &str, user: &UserName) -> Result<bool, TaskError> {
        Ok(self
            .engine
            .members(&user_set(user))
            .await?
            .iter()
            .any(|member| member == id))
    }

    /// `user`'s tasks still known (running or recently finished), oldest first.
    pub async fn of_user(&self, user: &UserName) -> Result<Vec<TaskState>, TaskError> {
        let set = user_set(user);
        let mut tasks = Vec::new();
        for id in self.engine.members(&set).await? {
            match self.current(&id).await? {
                Some((_, state)) => tasks.push(state),
                // Expired: drop it from the list too.
                None => self.engine.forget(&set, &id).await?,
            }
        }
        tasks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(tasks)
    }

    async fn store(&self, state: &TaskState, expect_last: EventId) -> Result<(), EngineError> {
        let data = serde_json::to_vec(state).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.engine
            .publish_with(
                &channel(&state.id),
                PROGRESS,
                Bytes::from(data),
                PublishOptions {
                    cap: Some(TASK_HISTORY),
                    expect_last: Some(expect_last),
                    ..PublishOptions::default()
                },
            )
            .await
            .map(|_| ())
    }

    /// Keeps a finished task for a while, and tells the feed about a success.
    async fn finished(&self, state: &TaskState) {
        if let Err(error) = self
            .engine
            .expire(&channel(&state.id), self.keep_finished)
            .await
        {
            tracing::warn!(%error, "could not schedule a finished task's expiry");
        }
        if state.status == TaskStatus::Completed {
            let who = state.owner.as_deref().unwrap_or("a worker");
            self.activity
                .note(
                    ActivityType::TaskCompleted,
                    who,
                    "completed a task",
                    &state.name,
                )
                .await;
        }
    }
}
