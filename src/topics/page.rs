//! `/topics`: the topics a signed-in user follows and the open ones they
//! may follow, each with its one action: Follow, Leave, or none (a
//! required topic cannot be left; a closed one is handed out by the
//! application). Rendered on the server with plain form posts, so the page
//! ships no WASM and works before, or without, scripts.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::account::sign_in_prompt::SignInPrompt;
use crate::account::signed_in::SignedIn;
use crate::topics::api::{my_topics, FollowTopic, LeaveTopic};
use crate::topics::model::{TopicAction, TopicChoice};
use crate::ui::page_shell::{PageShell, PageText};

const PAGE: PageText = PageText::new(
    "Topics",
    "Topics",
    "Follow what you care about: one notification to a topic reaches everyone who follows it.",
);

/// The user's topics, or a prompt to sign in.
#[component]
pub fn TopicsPage() -> impl IntoView {
    view! {
        <PageShell text=PAGE>
            <SignedIn fallback=|| view! { <SignInPrompt to="follow topics" /> } let:_account>
                <Choices />
            </SignedIn>
        </PageShell>
    }
}

/// Every choice, loaded while the page renders.
#[component]
fn Choices() -> impl IntoView {
    let choices = Resource::new(|| (), |()| my_topics());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                choices
                    .get()
                    .map(|loaded| match loaded {
                        Ok(list) if list.is_empty() => {
                            view! {
                                <p class="text-slate-500">
                                    "No topics yet: your application creates them."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(list) => {
                            view! {
                                <ul class="space-y-3" aria-label="Topics">
                                    {list
                                        .into_iter()
                                        .map(|choice| view! { <Choice choice /> })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! { <p class="text-rose-700" role="alert">{error.to_string()}</p> }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

/// One topic: its name, what it is about, and its action.
#[component]
fn Choice(choice: TopicChoice) -> impl IntoView {
    let action = choice.action();
    let TopicChoice { topic, following } = choice;
    let badge = |text: &'static str| {
        view! {
            <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-600">
                {text}
            </span>
        }
    };
    let form = action.map(|action| {
        let (url, label, class) = match action {
            TopicAction::Follow => (
                FollowTopic::url(),
                "Follow",
                "rounded-lg bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500",
            ),
            TopicAction::Leave => (
                LeaveTopic::url(),
                "Leave",
                "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 shadow-sm hover:bg-slate-50",
            ),
        };
        view! {
            <form method="post" action=url>
                <input type="hidden" name="key" value=topic.key.to_string() />
                <button type="submit" class=class aria-label=format!("{label} {}", topic.name)>
                    {label}
                </button>
            </form>
        }
    });
    view! {
        <li
            class="flex items-start justify-between gap-4 rounded-2xl border border-slate-200 bg-white p-4 shadow-sm"
            data-testid="topic"
            data-key=topic.key.to_string()
            data-following=following.to_string()
        >
            <div class="min-w-0 space-y-1">
                <div class="flex flex-wrap items-center gap-2">
                    <h2 class="font-semibold text-slate-900">{topic.name.clone()}</h2>
                    {following.then(|| badge("Following"))}
                    {topic.required.then(|| badge("Required"))}
                </div>
                {(!topic.description.is_empty())
                    .then(|| view! { <p class="text-sm text-slate-600">{topic.description.clone()}</p> })}
            </div>
            {form}
        </li>
    }
}
