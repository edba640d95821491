//! `/progress`: start long-running tasks and watch them live. Several run at
//! once; a reload shows the session's tasks still running or just finished.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::account::sign_in_prompt::SignInPrompt;

use crate::account::signed_in::SignedIn;
use crate::tasks::api::{my_tasks, StartTask};
use crate::tasks::card::TaskCard;
use crate::tasks::model::TaskState;
use crate::ui::page_shell::{PageShell, PageText};

const PAGE: PageText = PageText::new(
    "Progress",
    "Progress",
    "Start long-running tasks and follow their progress bars live. Any worker can report progress through the API.",
);

/// The tracker, or a prompt to sign in.
#[component]
pub fn ProgressPage() -> impl IntoView {
    view! {
        <PageShell text=PAGE>
            <SignedIn fallback=|| view! { <SignInPrompt to="start tasks" /> } let:_account>
                <Tracker />
            </SignedIn>
        </PageShell>
    }
}

#[island(lazy)]
fn Tracker() -> impl IntoView {
    crate::client::hydration::island_hydrated();
    let known = Resource::new(|| (), |()| my_tasks());
    // Tasks started from this page since it loaded, newest last.
    let started = RwSignal::new(Vec::<TaskState>::new());
    let start = ServerAction::<StartTask>::new();
    let name = RwSignal::new(String::new());
    let fail = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(task)) = start.value().get() {
            if !started.with_untracked(|tasks| tasks.iter().any(|t| t.id == task.id)) {
                started.update(|tasks| tasks.push(task));
                name.set(String::new());
            }
        }
    });
    let blank = move || name.with(|n| n.trim().is_empty());
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if blank() || start.pending().get_untracked() {
            return;
        }
        start.dispatch(StartTask {
            name: name.get_untracked().trim().to_owned(),
            fail: fail.get_untracked(),
        });
    };
    let error = move || match start.value().get() {
        Some(Err(error)) => error.to_string(),
        _ => String::new(),
    };
    view! {
        <section class="rounded-2xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="start-title">
            <h2 id="start-title" class="text-lg font-semibold text-slate-900">"Start a task"</h2>
            <form class="mt-4 flex flex-wrap items-end gap-3" on:submit=on_submit>
                <label class="block min-w-60 flex-1 text-sm font-medium text-slate-700">
                    "Task name"
                    <input
                        type="text"
                        name="name"
                        maxlength="80"
                        placeholder="e.g. Import customers"
                        class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-slate-900 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
                        prop:value=move || name.get()
                        on:input=move |event| name.set(event_target_value(&event))
                    />
                </label>
                <label class="flex items-center gap-2 pb-2 text-sm text-slate-700">
                    <input
                        type="checkbox"
                        class="size-4 rounded border-slate-300"
                        prop:checked=move || fail.get()
                        on:change=move |event| fail.set(event_target_checked(&event))
                    />
                    "Fail at random"
                </label>
                <button
                    type="submit"
                    class="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50"
                    disabled=move || blank() || start.pending().get()
                >
                    {move || if start.pending().get() { "Starting…" } else { "Start" }}
                </button>
            </form>
            <p class="mt-2 h-5 text-sm text-rose-600" role="alert">{error}</p>
        </section>
        <Suspense fallback=|| ()>
            {move || {
                known
                    .get()
                    .map(|tasks| {
                        let (tasks, problem) = match tasks {
                            Ok(tasks) => (tasks, None),
                            Err(error) => (
                                Vec::new(),
                                Some(error.to_string()),
                            ),
                        };
                        let shown: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
                        view! {
                            {problem.map(|problem| view! {
                                <p class="text-sm text-rose-600" role="alert">
                                    {format!("Earlier tasks could not be loaded: {problem}")}
                                </p>
                            })}
                            <ul class="grid gap-4 md:grid-cols-2" aria-label="Tasks">
                                <For
                                    each=move || tasks.clone()
                                    key=|task| task.id.clone()
                                    children=|task| view! { <TaskCard initial=task /> }
                                />
                                <For
                                    each=move || {
                                        started
                                            .get()
                                            .into_iter()
                                            .filter(|task| !shown.contains(&task.id))
                                            .collect::<Vec<_>>()
                                    }
                                    key=|task| task.id.clone()
                                    children=|task| view! { <TaskCard initial=task /> }
                                />
                            </ul>
                        }
                    })
            }}
        </Suspense>
    }
}
