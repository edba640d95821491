//! `/activity`: the live activity feed. Entries arrive over
//! `GET /api/sse/activity`; "Simulate activity" adds one, "Auto-simulate"
//! adds one every 3 s until stopped (or the page is left).

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::account::sign_in_prompt::SignInPrompt;
use crate::account::signed_in::SignedIn;
use crate::activity::api::SimulateActivity;
use crate::activity::entry::ActivityEntry;
use crate::activity::feed::Feed;
use crate::activity::model::Activity;
use crate::client::dom::every;
use crate::client::feeds::{use_feed, FeedMessage};
use crate::client::time::use_now;
use crate::ui::page_heading::PageHeading;
use crate::ui::status_dot::StatusDot;
use crate::wire::feed::FeedKey;
use crate::wire::names::ACTIVITY;

const TITLE: &str = "Activity";
const LEAD: &str =
    "What happens in the app, live: sign-ins, finished tasks, broadcasts — or simulated entries.";

/// How often auto-simulate adds an entry.
const AUTO_EVERY: Duration = Duration::from_secs(3);

/// The feed, or a prompt to sign in.
#[component]
pub fn ActivityPage() -> impl IntoView {
    let signed_out = || {
        view! {
            <div class="space-y-6">
                <PageHeading title=TITLE lead=LEAD />
                <SignInPrompt to="follow the activity feed" />
            </div>
        }
    };
    view! {
        <Title text="Belfry · Activity" />
        <SignedIn fallback=signed_out let:_account>
            <LiveFeed />
        </SignedIn>
    }
}

/// The feed itself: its stream, the simulate buttons, the entries.
#[island(lazy)]
fn LiveFeed() -> impl IntoView {
    crate::client::hydration::island_hydrated();
    let feed = RwSignal::new(Feed::default());
    let state = use_feed(FeedKey::Activity, move |message: FeedMessage| {
        if message.event != ACTIVITY {
            return;
        }
        if let Ok(mut activity) = serde_json::from_str::<Activity>(&message.data) {
            if let Some(id) = message.id {
                activity.id = id;
            }
            feed.update(|feed| feed.add(activity));
        }
    });
    let now = use_now(Duration::from_secs(10));
    let simulate = ServerAction::<SimulateActivity>::new();
    let auto = RwSignal::new(false);
    view! {
        <div class="space-y-6">
            <PageHeading title=TITLE lead=LEAD>
                <StatusDot state />
            </PageHeading>
            <div class="flex flex-wrap gap-3">
                <button
                    type="button"
                    class="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50"
                    disabled=move || simulate.pending().get()
                    on:click=move |_| {
                        simulate.dispatch(SimulateActivity {});
                    }
                >
                    "Simulate activity"
                </button>
                <Show
                    when=move || auto.get()
                    fallback=move || {
                        view! {
                            <button
                                type="button"
                                class="rounded-lg border border-slate-300 bg-white px-4 py-2 font-medium text-slate-700 shadow-sm hover:bg-slate-50"
                                on:click=move |_| auto.set(true)
                            >
                                "Auto-simulate"
                            </button>
                        }
                    }
                >
                    <AutoSimulator simulate />
                    <button
                        type="button"
                        class="rounded-lg bg-rose-600 px-4 py-2 font-medium text-white shadow-sm hover:bg-rose-500"
                        on:click=move |_| auto.set(false)
                    >
                        "Stop"
                    </button>
                </Show>
            </div>
            <Show
                when=move || feed.with(|feed| !feed.entries().is_empty())
                fallback=|| view! { <p class="text-slate-500">"No activity yet."</p> }
            >
                <ul class="space-y-3" aria-label="Activity feed">
                    <For
                        each=move || feed.with(|feed| feed.entries().to_vec())
                        key=|activity| activity.id.clone()
                        children=move |activity| view! { <ActivityEntry activity now /> }
                    />
                </ul>
            </Show>
        </div>
    }
}

/// Adds an entry every [`AUTO_EVERY`] while mounted; unmounting stops it.
#[component]
fn AutoSimulator(simulate: ServerAction<SimulateActivity>) -> impl IntoView {
    every(AUTO_EVERY, move || {
        simulate.dispatch(SimulateActivity {});
    });
}
