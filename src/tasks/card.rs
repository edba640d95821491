//! One task: name, status pill, step, percentage, animated bar, message, a
//! done mark, and Cancel while it runs. Its progress stream stays open only
//! until the task ends.

use leptos::prelude::*;

use super::api::CancelTask;
use crate::client::feeds::{use_feed, FeedMessage};
use crate::tasks::model::{TaskState, TaskStatus};
use crate::wire::feed::FeedKey;
use crate::wire::names::PROGRESS;

/// Tailwind classes of a status pill.
fn pill_colours(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending => "bg-slate-100 text-slate-700",
        TaskStatus::Processing => "bg-sky-100 text-sky-800",
        TaskStatus::Completed => "bg-emerald-100 text-emerald-800",
        TaskStatus::Failed => "bg-rose-100 text-rose-800",
        TaskStatus::Cancelled => "bg-amber-100 text-amber-800",
    }
}

fn bar_colour(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Completed => "bg-emerald-500",
        TaskStatus::Failed => "bg-rose-500",
        TaskStatus::Cancelled => "bg-amber-400",
        TaskStatus::Pending | TaskStatus::Processing => "bg-sky-500",
    }
}

/// A task card; `initial` is the state known when it was rendered.
#[component]
pub fn TaskCard(initial: TaskState) -> impl IntoView {
    let id = initial.id.clone();
    let name = initial.name.clone();
    let state = RwSignal::new(initial);
    let status = move || state.with(|s| s.status);
    let running = move || !status().is_terminal();
    let cancel = ServerAction::<CancelTask>::new();
    // A cancel answers with the new state; apply it even before the stream does.
    Effect::new(move |_| {
        if let Some(Ok(next)) = cancel.value().get() {
            state.set(next);
        }
    });
    let cancel_id = id.clone();
    view! {
        <li
            class="rounded-2xl border border-slate-200 bg-white p-5 shadow-sm"
            data-testid="task"
            data-status=move || status().as_str()
            aria-label=format!("Task {name}")
        >
            <Show when=running>
                <TaskFeed id=id.clone() state />
            </Show>
            <div class="flex items-center justify-between gap-3">
                <h3 class="min-w-0 truncate font-semibold text-slate-900">
                    {move || state.with(|s| s.name.clone())}
                    <Show when=move || status() == TaskStatus::Completed>
                        <span class="ml-2 text-emerald-600" aria-label="done" data-testid="done">"✓"</span>
                    </Show>
                </h3>
                <span
                    class=move || format!("rounded-full px-2.5 py-0.5 text-xs font-semibold {}", pill_colours(status()))
                    data-testid="status"
                >
                    {move || status().as_str()}
                </span>
            </div>
            <div class="mt-2 flex items-baseline justify-between text-sm text-slate-600">
                <span data-testid="step">{move || state.with(|s| s.step.clone().unwrap_or_default())}</span>
                <span class="font-mono tabular-nums" data-testid="percent">{move || format!("{}%", state.with(|s| s.progress))}</span>
            </div>
            <div
                class="mt-2 h-2.5 overflow-hidden rounded-full bg-slate-100"
                role="progressbar"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || state.with(|s| s.progress).to_string()
            >
                <div
                    class=move || format!("h-full rounded-full transition-all duration-700 ease-out {}", bar_colour(status()))
                    style=move || format!("width: {}%", state.with(|s| s.progress))
                ></div>
            </div>
            <div class="mt-2 flex items-center justify-between gap-3">
                <p class="text-sm text-slate-700" data-testid="message">{move || state.with(|s| s.message.clone())}</p>
                <Show when=running>
                    <button
                        type="button"
                        class="rounded-lg border border-slate-300 px-3 py-1 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-50"
                        disabled=move || cancel.pending().get()
                        on:click={
                            let cancel_id = cancel_id.clone();
                            move |_| {
                                cancel.dispatch(CancelTask { id: cancel_id.clone() });
                            }
                        }
                    >
                        "Cancel"
                    </button>
                </Show>
            </div>
        </li>
    }
}

/// The task's progress stream; mounted only while the task runs.
#[component]
fn TaskFeed(id: String, state: RwSignal<TaskState>) -> impl IntoView {
    let _connection = use_feed(FeedKey::Task(id), move |message: FeedMessage| {
        if message.event != PROGRESS {
            return;
        }
        if let Ok(next) = serde_json::from_str::<TaskState>(&message.data) {
            // Updates arrive in order; never step back to an older one.
            let newer =
                state.with_untracked(|s| next.progress >= s.progress || next.status.is_terminal());
            if newer && !state.with_untracked(|s| s.status.is_terminal()) {
                state.set(next);
            }
        }
    });
}
