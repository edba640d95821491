//! The live server clock, fed by the `clock` feed.

use leptos::prelude::*;

use crate::client::feeds::use_feed;
use crate::client::time::{calendar_date, clock_time};
use crate::clock::ClockTick;
use crate::ui::status_dot::StatusDot;
use crate::wire::feed::FeedKey;

/// A card showing the server's time, ticking every second while mounted.
#[component]
pub fn ClockCard() -> impl IntoView {
    let (tick, set_tick) = signal(None::<ClockTick>);
    let state = use_feed(FeedKey::Clock, move |message| {
        if let Ok(next) = serde_json::from_str::<ClockTick>(&message.data) {
            set_tick.set(Some(next));
        }
    });
    let time = move || {
        tick.get()
            .map_or_else(|| "--:--:--".to_owned(), |t| clock_time(t.timestamp))
    };
    let date = move || {
        tick.get()
            .map(|t| calendar_date(t.timestamp))
            .unwrap_or_default()
    };
    view! {
        <section
            aria-labelledby="clock-title"
            class="rounded-2xl border border-slate-200 bg-white p-6 shadow-sm sm:p-8"
        >
            <div class="flex items-center justify-between gap-4">
                <h2 id="clock-title" class="text-sm font-semibold uppercase tracking-wide text-slate-500">
                    "Server time"
                </h2>
                <StatusDot state />
            </div>
            <p class="mt-4 font-mono text-5xl font-semibold tabular-nums text-slate-900 sm:text-6xl">
                <time aria-label="Current server time" datetime=move || tick.get().map(|t| t.time)>
                    {time}
                </time>
            </p>
            <p class="mt-2 h-5 text-sm text-slate-500">{date}</p>
        </section>
    }
}
