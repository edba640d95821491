//! `/`: what Belfry is, and the live server clock.

use leptos::prelude::*;

use crate::clock::card::ClockCard;
use crate::ui::page_shell::{PageShell, PageText};

const PAGE: PageText = PageText::new(
    "Live clock",
    "Real-time, by Server-Sent Events",
    "Belfry is a notification center for web apps. This clock is pushed by the server every second over one long-lived HTTP response.",
);

/// The home page: an introduction, then the live clock.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <PageShell text=PAGE>
            <LiveClock />
        </PageShell>
    }
}

/// The clock and its pause button. Pausing unmounts the clock and so
/// closes its stream; resuming opens a new one.
#[island(lazy)]
fn LiveClock() -> impl IntoView {
    crate::client::hydration::island_hydrated();
    let (live, set_live) = signal(true);
    view! {
        <div class="space-y-6">
            <Show
                when=move || live.get()
                fallback=|| {
                    view! {
                        <section class="rounded-2xl border border-slate-200 bg-white p-6 text-slate-600 shadow-sm sm:p-8">
                            <p>"Clock paused: its stream is closed."</p>
                        </section>
                    }
                }
            >
                <ClockCard />
            </Show>
            <button
                type="button"
                class="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600"
                aria-pressed=move || (!live.get()).to_string()
                on:click=move |_| set_live.update(|live| *live = !*live)
            >
                {move || if live.get() { "Pause clock" } else { "Resume clock" }}
            </button>
        </div>
    }
}
